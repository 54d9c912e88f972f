import Foundation
import MLPEngine

/// The session's link to the run store (RunStore.defaultPath), opened at the first `train`.
/// Recording never stops training: a store that cannot be opened or written (a read-only
/// folder, a corrupt file) gives one warning, and the session goes on without it. Under
/// mpirun only rank 0 records.
final class RunRecorder {
    private let console: Console
    private var store: RunStore?
    private var warned = false
    /// The run of the session's last `train`: files written after it are recorded with it.
    private(set) var lastRun: Int64?

    init(console: Console) { self.console = console }

    /// The store for reading, for `runs`, `runs show`, `compare` and `plot runs=`: the writer
    /// when the store can be written (as `train` would open it), else a reader that creates and
    /// writes nothing, so that a store in a read-only folder can still be read.
    func openForReading() throws -> RunStore {
        if let store { return store }
        if RunStore.isOff { throw EngineError("the run history is off (MLPSH_RUNS=\(ProcessInfo.processInfo.environment["MLPSH_RUNS"] ?? "off"))") }
        let path = RunStore.defaultPath, folder = (path as NSString).deletingLastPathComponent
        let writable = access(folder.isEmpty ? "." : folder, W_OK) == 0 && (access(path, F_OK) != 0 || access(path, W_OK) == 0)
        if writable { return try open() }
        do {
            return try RunStore(readingOnly: RunStore.defaultPath)
        } catch {
            throw EngineError("the run history \(RunStore.defaultPath) cannot be read: \(error)")
        }
    }

    /// The store, for the `runs` commands: its errors are theirs.
    func open() throws -> RunStore {
        if let store { return store }
        if RunStore.isOff { throw EngineError("the run history is off (MLPSH_RUNS=\(ProcessInfo.processInfo.environment["MLPSH_RUNS"] ?? "off"))") }
        do {
            let s = try RunStore(path: RunStore.defaultPath)
            store = s
            return s
        } catch {
            throw EngineError("the run history \(RunStore.defaultPath) cannot be used: \(error)")
        }
    }

    func begin(_ run: RunStore.Run) {
        lastRun = nil
        // A store that failed for the last run is tried again for this one.
        warned = false
        attempt { lastRun = try $0.begin(run) }
    }

    func epoch(_ e: EpochResult) {
        guard let id = lastRun else { return }
        attempt { try $0.addEpoch(id, e) }
    }

    func end(status: String, seconds: Double) {
        guard let id = lastRun else { return }
        attempt { try $0.end(id, status: status, seconds: seconds) }
    }

    /// A file the session wrote (weights, a figure, a log), kept with its last run.
    func wrote(_ path: String) {
        guard let id = lastRun else { return }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        attempt { try $0.addFile(id, path: absolute) }
    }

    private func attempt(_ body: (RunStore) throws -> Void) {
        guard Distributed.isLead, !warned, !RunStore.isOff else { return }
        do {
            try body(try open())
        } catch {
            warned = true
            store = nil
            console.writeError("warning: this run is not recorded (\(error)); training goes on\n")
        }
    }
}
