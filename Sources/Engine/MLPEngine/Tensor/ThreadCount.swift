import Foundation
internal import CThreads

/// How many threads the kernels use, and where that number came from.
///
/// The default is the CPUs this process may use: the environment's word first
/// (`MLPSH_THREADS`, then `OPENBLAS_NUM_THREADS`, then `OMP_NUM_THREADS`), else the smaller of
/// the affinity mask (`taskset`, cpusets) and the cgroup's CPU quota rounded down (cgroup v2's
/// `cpu.max`, v1's `cpu.cfs_quota_us` / `cpu.cfs_period_us`, the smallest along the group's
/// path; a container limited to 1.5 CPUs gets 1), else the online cores.
public struct ThreadCount: Equatable, Sendable, CustomStringConvertible {
    public var value: Int
    /// `MLPSH_THREADS`, `OPENBLAS_NUM_THREADS`, `OMP_NUM_THREADS`, `affinity`, `cgroup quota`,
    /// `cores`, or whatever set it later (`threads`, `mpirun`).
    public var source: String
    /// Environment variables that were set but did not hold a number of threads, as
    /// `NAME=VALUE`, for the caller to warn about.
    public var ignored: [String] = []

    public init(value: Int, source: String, ignored: [String] = []) {
        self.value = value
        self.source = source
        self.ignored = ignored
    }

    /// `2 (affinity)`.
    public var description: String { "\(value) (\(source))" }

    /// The variables read, in the order they win.
    public static let variables = ["MLPSH_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"]

    /// This process's default, worked out once.
    public static let resolved = resolve(environment: ProcessInfo.processInfo.environment,
                                         affinity: Int(mlpsh_affinity_cpus()), quota: cgroupQuota(), cores: onlineCPUs)

    /// The cores the machine has online.
    public static var onlineCPUs: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// The rule, on given facts (affinity 0 and quota nil: not known).
    public static func resolve(environment: [String: String], affinity: Int, quota: Double?, cores: Int) -> ThreadCount {
        var ignored: [String] = []
        for name in variables {
            guard let text = environment[name], !text.isEmpty else { continue }
            // OMP_NUM_THREADS may list a count per nesting level: the first is ours.
            let first = text.split(separator: ",", omittingEmptySubsequences: false).first.map(String.init) ?? text
            if let n = Int(first.trimmingCharacters(in: .whitespaces)), n >= 1 {
                return ThreadCount(value: n, source: name, ignored: ignored)
            }
            ignored.append("\(name)=\(text)")
        }
        var best = ThreadCount(value: max(1, cores), source: "cores", ignored: ignored)
        if affinity >= 1, affinity < best.value { best = ThreadCount(value: affinity, source: "affinity", ignored: ignored) }
        if let quota, quota > 0 {
            let n = max(1, Int(quota.rounded(.down)))
            if n < best.value { best = ThreadCount(value: n, source: "cgroup quota", ignored: ignored) }
        }
        return best
    }

    /// The CPU quota of this process's cgroup in CPUs (1.5 for 150 ms of every 100 ms), the
    /// smallest along its path, or nil when there is none.
    static func cgroupQuota() -> Double? {
        guard let groups = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
              let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        var quota: Double?
        for folder in cgroupFolders(cgroup: groups, mountinfo: mounts) {
            if let q = quotaIn(folder: folder) { quota = min(quota ?? q, q) }
        }
        return quota
    }

    /// The cgroup folders that can hold this process's CPU quota, innermost first: for each
    /// CPU controller mounted (v2's unified hierarchy, v1's `cpu`), the process's group within
    /// the mount and each group above it up to the mount's root.
    static func cgroupFolders(cgroup: String, mountinfo: String) -> [String] {
        // Mounts: (root of the mount within the hierarchy, mount point, v2 or v1 with cpu).
        var v2: (root: String, point: String)?, v1: (root: String, point: String)?
        for line in mountinfo.split(separator: "\n") {
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2 else { continue }
            let fields = halves[0].split(separator: " "), after = halves[1].split(separator: " ")
            guard fields.count >= 5, after.count >= 3 else { continue }
            let root = String(fields[3]), point = String(fields[4])
            if after[0] == "cgroup2" { v2 = v2 ?? (root, point) }
            if after[0] == "cgroup", after[2].split(separator: ",").contains("cpu") { v1 = v1 ?? (root, point) }
        }
        var folders: [String] = []
        func walk(_ path: String, _ mount: (root: String, point: String)) {
            // The group's path relative to the mount's root (a container sees its own as /).
            var relative = path
            if mount.root != "/", relative.hasPrefix(mount.root) { relative = String(relative.dropFirst(mount.root.count)) }
            var parts = relative.split(separator: "/").map(String.init)
            while true {
                folders.append(([mount.point] + parts).joined(separator: "/"))
                if parts.isEmpty { break }
                parts.removeLast()
            }
        }
        for line in cgroup.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let path = String(fields[2])
            if fields[0] == "0", fields[1].isEmpty, let v2 { walk(path, v2) }
            if fields[1].split(separator: ",").contains("cpu"), let v1 { walk(path, v1) }
        }
        return folders
    }

    /// The quota in one folder: v2's `cpu.max` ("150000 100000", or "max 100000"), or v1's
    /// `cpu.cfs_quota_us` (-1 for none) over `cpu.cfs_period_us`.
    static func quotaIn(folder: String) -> Double? {
        func read(_ name: String) -> [Double]? {
            guard let text = try? String(contentsOfFile: folder + "/" + name, encoding: .utf8) else { return nil }
            return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map { Double($0) ?? -1 }
        }
        if let max = read("cpu.max"), max.count == 2 { return quota(max[0], max[1]) }
        if let q = read("cpu.cfs_quota_us")?.first, let p = read("cpu.cfs_period_us")?.first { return quota(q, p) }
        return nil
    }

    static func quota(_ quota: Double, _ period: Double) -> Double? {
        quota > 0 && period > 0 ? quota / period : nil
    }
}
