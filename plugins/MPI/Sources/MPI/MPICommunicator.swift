import CMPI
import Foundation
import MLPEngine

/// The ranks of an MPI job (MPI_COMM_WORLD): sums with MPI_Allreduce, in place, and
/// broadcasts with MPI_Bcast. A failed collective cannot be recovered from by one rank
/// alone: it ends the job (MPI_Abort) after saying why.
final class MPICommunicator: Communicator {
    let rank: Int
    let size: Int
    let localSize: Int
    let summary: String
    /// Collectives move at most this many elements a call (MPI's counts are Int32).
    private static let largestCount = 1 << 30

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
        var done = 0
        while done < count {
            let n = min(Self.largestCount, count - done)
            check(call(done, Int32(n)), name)
            done += n
        }
    }

    func finish() { mlpsh_mpi_finalize() }

    private func check(_ code: Int32, _ call: String) {
        guard code != 0 else { return }
        let message = Array("mlpsh: error: \(call) failed on rank \(rank) (error \(code)): ending every rank\n".utf8)
        _ = message.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        mlpsh_mpi_abort(1)
    }
}
