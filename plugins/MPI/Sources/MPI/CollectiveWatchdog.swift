import Foundation
import Synchronization

/// Bounds the time a rank spends in one collective. The collective itself stays MPI's
/// blocking call (its fastest form): before it the rank writes a deadline, after it clears it,
/// and a thread that wakes once a second ends the process when a deadline has passed. The
/// process exits with status 1, which makes mpirun end the job; MPI_Abort is not called from
/// this thread, as the job runs MPI_THREAD_FUNNELED.
final class CollectiveWatchdog: @unchecked Sendable {
    private let rank: Int
    private let limit: Double
    /// The monotonic time, in nanoseconds, by which the collective under way must end; 0 when
    /// none is under way.
    private let deadline = Atomic<UInt64>(0)
    /// Which collective is under way (an index into `names`).
    private let current = Atomic<Int>(0)
    private static let names = ["MPI_Allreduce", "MPI_Bcast"]

    init(rank: Int, limit: Double) {
        self.rank = rank
        self.limit = limit
        let thread = Thread { [self] in watch() }
        thread.name = "mlpsh-mpi-watchdog"
        thread.start()
    }

    func arm(_ name: String) {
        current.store(Self.names.firstIndex(of: name) ?? 0, ordering: .relaxed)
        let span = UInt64(min(limit, 1e9) * 1e9)
        deadline.store(DispatchTime.now().uptimeNanoseconds &+ span, ordering: .releasing)
    }

    func disarm() { deadline.store(0, ordering: .releasing) }

    private func watch() {
        while true {
            Thread.sleep(forTimeInterval: min(1, limit / 4))
            let due = deadline.load(ordering: .acquiring)
            guard due != 0, DispatchTime.now().uptimeNanoseconds > due else { continue }
            let seconds = limit == limit.rounded() ? String(Int(limit)) : String(limit)
            let text = "mlpsh: error: rank \(rank) waited \(seconds) s in \(Self.names[current.load(ordering: .relaxed)]) "
                + "for ranks that did not come (do all ranks run the same statements? MLPSH_MPI_TIMEOUT sets the limit): ending every rank\n"
            let bytes = Array(text.utf8)
            _ = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            _exit(1)
        }
    }
}
