import CMPI
import Foundation
import MLPEngine

/// The ranks of an MPI job (MPI_COMM_WORLD): sums with MPI_Allreduce, in place, and
/// broadcasts with MPI_Bcast. A failed collective cannot be recovered from by one rank alone:
/// it ends the job (MPI_Abort) after saying why. Nor can one whose partners never come (ranks
/// that run different statements): after `timeout` seconds a watchdog says so and ends this
/// rank, and mpirun then ends the others.
final class MPICommunicator: Communicator {
    let rank: Int
    let size: Int
    let localSize: Int
    let summary: String
    /// Collectives move at most this many elements a call (MPI's counts are Int32).
    private static let largestCount = 1 << 30
    /// How long a rank waits in a collective for the others: MLPSH_MPI_TIMEOUT seconds, 60 by
    /// default, 0 for no limit. Ranks do the same work, so a long wait means a partner is in
    /// another statement, or is rank 0 writing a large file.
    let timeout: Double
    private let watchdog: CollectiveWatchdog?

    init() throws {
        var rank: Int32 = 0, size: Int32 = 0, local: Int32 = 0
        let code = mlpsh_mpi_init(&rank, &size, &local)
        guard code == 0 else { throw EngineError("MPI_Init failed (error \(code))") }
        self.rank = Int(rank)
        self.size = Int(size)
        localSize = max(1, Int(local))
        var text = [CChar](repeating: 0, count: 256)
        mlpsh_mpi_version(&text, Int32(text.count))
        let version = String(cString: text)
        timeout = try Self.timeoutSetting(ProcessInfo.processInfo.environment["MLPSH_MPI_TIMEOUT"])
        watchdog = timeout > 0 ? CollectiveWatchdog(rank: self.rank, limit: timeout) : nil
        summary = "mpi: \(size) rank\(size == 1 ? "" : "s") (\(version)), rank \(rank), \(local) on this machine"
    }

    func sum(_ values: UnsafeMutablePointer<Float>, count: Int) {
        inPieces(count, "MPI_Allreduce") { done, n in mlpsh_mpi_sum_floats(values + done, n) }
    }

    func sum(_ values: UnsafeMutablePointer<Double>, count: Int) {
        inPieces(count, "MPI_Allreduce") { done, n in mlpsh_mpi_sum_doubles(values + done, n) }
    }

    func broadcast(_ bytes: UnsafeMutableRawPointer, count: Int, from root: Int) {
        inPieces(count, "MPI_Bcast") { done, n in mlpsh_mpi_broadcast(bytes + done, n, Int32(root)) }
    }

    /// Runs `call(offset, count)` over `count` elements in pieces MPI's Int32 counts can hold.
    private func inPieces(_ count: Int, _ name: String, _ call: (Int, Int32) -> Int32) {
        watchdog?.arm(name)
        defer { watchdog?.disarm() }
        var done = 0
        while done < count {
            let n = min(Self.largestCount, count - done)
            check(call(done, Int32(n)), name)
            done += n
        }
    }

    func finish() { mlpsh_mpi_finalize() }

    static func timeoutSetting(_ text: String?) throws -> Double {
        guard let text else { return 60 }
        guard let seconds = Double(text), seconds.isFinite, seconds >= 0 else {
            throw EngineError("MLPSH_MPI_TIMEOUT is '\(text)': give the seconds a rank waits for the others in a collective (0: no limit)")
        }
        return seconds
    }

    private func check(_ code: Int32, _ call: String) {
        guard code != 0 else { return }
        let message = Array("mlpsh: error: \(call) failed on rank \(rank) (error \(code)): ending every rank\n".utf8)
        _ = message.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        mlpsh_mpi_abort(1)
    }
}
