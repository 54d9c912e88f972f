import Foundation
import Synchronization
@_implementationOnly import CPrefetch

/// Runs a few pieces of work at once: piece 0 on the calling thread, the others on worker
/// threads that stay awake between the many small products of a training step (each is tens
/// of microseconds) and go to sleep after a few milliseconds without work.
///
/// OpenBLAS's own threads wake and sleep around every call, which costs more than a product
/// of 64x120x784 gains from them; splitting such a product in two here nearly halves it.
public final class Parallel: @unchecked Sendable {
    public static let shared = Parallel()

    private let workers: [Worker]
    /// How many pieces `run` may use: 1 (no workers) up to the workers + 1.
    public private(set) var ways: Int

    /// At most 8 ways: the products of a training step are too small to share among more cores.
    init(maximumWays: Int = ProcessInfo.processInfo.activeProcessorCount) {
        let n = max(1, min(maximumWays, 8))
        workers = (1..<n).map { Worker(index: $0) }
        ways = n
    }

    /// The number of pieces work is split into: at most the cores mlpsh saw at start.
    public func setWays(_ n: Int) { ways = max(1, min(n, workers.count + 1)) }

    /// Calls body(0) ... body(count - 1), each on its own thread, and returns when all are done.
    /// `count` must not exceed `ways`.
    public func run(_ count: Int, _ body: @escaping (Int) -> Void) {
        precondition(count <= ways, "Parallel.run(\(count)) with \(ways) ways")
        if count <= 1 { body(0); return }
        for i in 1..<count { workers[i - 1].post { body(i) } }
        body(0)
        for i in 1..<count { workers[i - 1].wait() }
    }

    /// Calls body(start, count) on `ways` contiguous slices of 0..<n at once, the slices in the
    /// order of the pieces of a product split by rows (so each core updates what it computed);
    /// a short range runs whole on the calling thread.
    public func forEachSlice(of n: Int, minimum: Int = 16_384, _ body: @escaping (Int, Int) -> Void) {
        let count = max(1, min(ways, n / max(minimum / 2, 1)))
        run(count) { i in
            let start = n * i / count, end = n * (i + 1) / count
            body(start, end - start)
        }
    }

    /// One thread and its mailbox. The caller posts by bumping `request`; the worker runs the
    /// job and stores the same number in `completed`. A worker that has spun for `spinLimit`
    /// rounds without a job sleeps on its semaphore; a poster that sees it asleep signals it.
    final class Worker: @unchecked Sendable {
        private let request = Atomic<Int>(0)
        private let completed = Atomic<Int>(0)
        private let sleeping = Atomic<Bool>(false)
        private let wake = DispatchSemaphore(value: 0)
        private var job: (() -> Void)?
        /// About 2 ms of spinning on this kind of machine.
        private let spinLimit = 200_000

        init(index: Int) {
            let thread = Thread { [unowned self] in self.loop() }
            thread.name = "mlpsh-worker-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }

        func post(_ work: @escaping () -> Void) {
            job = work
            request.add(1, ordering: .sequentiallyConsistent)
            if sleeping.load(ordering: .sequentiallyConsistent) { wake.signal() }
        }

        func wait() {
            let target = request.load(ordering: .relaxed)
            while completed.load(ordering: .acquiring) != target { mlpsh_spin_pause() }
        }

        private func loop() {
            var seen = 0, spins = 0
            while true {
                let r = request.load(ordering: .acquiring)
                if r != seen {
                    seen = r
                    job!()
                    completed.store(r, ordering: .releasing)
                    spins = 0
                    continue
                }
                spins += 1
                if spins < spinLimit { mlpsh_spin_pause(); continue }
                sleeping.store(true, ordering: .sequentiallyConsistent)
                if request.load(ordering: .sequentiallyConsistent) == seen { wake.wait() }
                sleeping.store(false, ordering: .sequentiallyConsistent)
                spins = 0
            }
        }
    }
}
