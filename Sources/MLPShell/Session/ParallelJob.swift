import Foundation
import MLPEngine

/// mlpsh started by mpirun: it joins the job through the MPI plugin, rank 0 alone prints and
/// writes files, each rank takes its share of the cores, and after every statement the ranks
/// agree on whether one failed, so that an error anywhere ends every rank with one
/// `FILE:LINE: error:` line and status 1, and no rank is left waiting in a collective.
public enum ParallelJob {
    /// How long a failed rank waits for the others to reach the agreement before it ends the
    /// job on its own (they are in a collective it will never join).
    static let agreementTimeout: Double = 10

    /// Whether mpirun (Open MPI, or a PMI launcher) started this process.
    public static var isLaunched: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["OMPI_COMM_WORLD_SIZE"] != nil || env["PMI_SIZE"] != nil || env["PMIX_RANK"] != nil
    }

    /// Loads the MPI plugin, which joins the job, and sets this rank up: ranks other than 0
    /// print nothing and write no files; each rank takes its share of the CPUs on its machine
    /// as its threads unless its affinity or the environment says otherwise (`threads N` still can).
    public static func join(_ session: Session) throws {
        let path: String
        do {
            path = try PluginLoader.resolve("MPI", folders: pluginFolders())
        } catch let e as EngineError {
            throw EngineError("mlpsh under mpirun needs the MPI plugin: \(e.message)")
        }
        _ = try session.plugins.load(path: path)
        guard let c = Distributed.communicator else { throw EngineError("the MPI plugin did not join the job") }
        // Bound to some cores by mpirun, a rank uses those (its affinity); a number from the
        // environment stands; otherwise each rank takes its share of the CPUs.
        let chosen = BLAS.threadCount
        if chosen.source == "cores" || chosen.source == "cgroup quota" {
            BLAS.setThreads(max(1, chosen.value / c.localSize), source: "\(chosen.source) / \(c.localSize) ranks")
        }
        guard c.size > 1, c.rank != 0 else { return }
        session.console.write = { _ in }
        session.console.writeError = { _ in }
        session.console.showsProgress = false
        session.console.isTerminal = false
        AtomicFile.writesEnabled = false
    }

    /// The statement's agreement: every rank says whether it failed; the lowest failing rank
    /// prints its error, and every rank throws Distributed.PeerFailure. A failed rank whose partners never
    /// come (they wait in another collective) prints its error and ends the job itself.
    static func agree(_ group: Communicator, failure: Error?) throws {
        let line = failure.map(errorLine)
        let watchdog = line.map { text in
            DispatchWorkItem {
                StandardStreams.write(text, to: STDERR_FILENO)
                _exit(1)
            }
        }
        if let watchdog { DispatchQueue.global().asyncAfter(deadline: .now() + agreementTimeout, execute: watchdog) }
        let failed = group.whoSays(failure != nil)
        watchdog?.cancel()
        guard let first = failed.firstIndex(of: true) else {
            // The others met this rank in another collective's place: say it, and stop.
            if let line { StandardStreams.write(line, to: STDERR_FILENO) }
            if failure != nil { throw Distributed.PeerFailure() }
            return
        }
        if first == group.rank, let line { StandardStreams.write(line, to: STDERR_FILENO) }
        throw Distributed.PeerFailure()
    }
}
