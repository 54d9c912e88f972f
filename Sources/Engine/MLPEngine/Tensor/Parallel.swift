import Foundation
import Synchronization
internal import CThreads

/// Runs a few pieces of work at once: piece 0 on the calling thread, the others on worker
/// threads that stay awake for a short while between the many small products of a training
/// step (each is tens of microseconds), then sleep.
///
/// OpenBLAS's own threads wake and sleep around every call, which costs more than a product
/// of 64x120x784 gains from them; splitting such a product in two here nearly halves it.
///
/// On a machine shared with other programs a partner thread may not be running at all, so no
/// thread ever spins long on one: a piece a worker has not started by the time the caller has
/// finished its own is taken back and run by the caller, and every wait spins for at most
/// `spinNanoseconds`, then yields, then sleeps on a semaphore (as OpenMP runtimes bound their
/// spinning and then block).
public final class Parallel: @unchecked Sendable {
    public static let shared = Parallel(ways: ThreadCount.resolved.value, source: ThreadCount.resolved.source)

    /// The most pieces `run` can use: the machine's cores, at most 8 (the products of a
    /// training step are too small to share among more).
    public let maximumWays: Int
    /// Created as `ways` first asks for them, so a process held to one CPU starts none.
    private var workers: [Worker] = []
    /// How many pieces `run` may use: 1 (no workers) up to `maximumWays`.
    public private(set) var ways = 1
    /// Who chose `ways` (see ThreadCount.source).
    public private(set) var source = "cores"

    /// How long a waiting thread polls before it yields and then sleeps. A training step's
    /// pieces follow each other within a few microseconds on an idle machine; a partner that
    /// has not answered in this time is most likely not running.
    static let spinNanoseconds: UInt64 = 50_000
    /// How long it then yields its core before it sleeps.
    static let yieldNanoseconds: UInt64 = 100_000

    /// Whether workers get a thread; without one (for tests) every piece is taken back.
    private let startsThreads: Bool

    init(ways: Int, source: String, maximumWays: Int = ThreadCount.onlineCPUs, startsThreads: Bool = true) {
        self.maximumWays = max(1, min(maximumWays, 8))
        self.startsThreads = startsThreads
        setWays(ways, source: source)
    }

    /// The number of pieces work is split into (at most `maximumWays`), and who chose it.
    public func setWays(_ n: Int, source: String) {
        ways = max(1, min(n, maximumWays))
        self.source = source
        while workers.count < ways - 1 { workers.append(Worker(index: workers.count + 1, startsThread: startsThreads)) }
    }

    /// Calls body(0) ... body(count - 1) at once, each on its own thread when one is free, and
    /// returns when all are done. `count` must not exceed `ways`.
    public func run(_ count: Int, _ body: @escaping (Int) -> Void) {
        precondition(count <= ways, "Parallel.run(\(count)) with \(ways) ways")
        if count <= 1 { body(0); return }
        if alone > 0 {
            // The workers have not been running when needed: the caller does it all, and the
            // workers sleep (a sleeping worker leaves its share of a busy core to the caller).
            alone -= 1
            for i in 0..<count { body(i) }
            return
        }
        for i in 1..<count { workers[i - 1].post { body(i) } }
        body(0)
        var missed = 0
        for i in 1..<count where !workers[i - 1].finish() { missed += 1 }
        recent.runs += 1
        recent.missed += missed > 0 ? 1 : 0
        if recent.runs == Self.window {
            // Nearly every piece taken back: the workers are not getting the CPU.
            if recent.missed * 4 > recent.runs * 3 { alone = Self.aloneRuns }
            recent = (0, 0)
        }
    }

    /// Runs of the last window, and how many of them had a piece the caller took back.
    private var recent = (runs: 0, missed: 0)
    /// Runs left for the caller alone.
    private var alone = 0
    /// Whether the caller is running every piece itself for a while.
    var isAlone: Bool { alone > 0 }
    /// A window of 64 runs; when over three quarters took a piece back, the next 2,000 runs
    /// (tens of milliseconds of training, after which the workers are tried again) are the
    /// caller's alone. On a busy machine a worker that shares its core with another program
    /// may run only while the caller does not, and then it only costs the caller CPU time.
    static let window = 64, aloneRuns = 2_000

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

    /// Waits until `done()` holds: polls for `spinNanoseconds`, yields the core for
    /// `yieldNanoseconds`, then sleeps on `sleeper` (whose owner signals it when `sleeping` is
    /// set and the condition may have changed).
    /// Returns whether it ended without sleeping.
    @inline(__always) @discardableResult
    static func await(_ done: () -> Bool, sleeping: borrowing Atomic<Bool>, sleeper: DispatchSemaphore) -> Bool {
        if done() { return true }
        let start = DispatchTime.now().uptimeNanoseconds
        while true {
            for _ in 0..<32 {
                if done() { return true }
                mlpsh_spin_pause()
            }
            let waited = DispatchTime.now().uptimeNanoseconds &- start
            if waited < spinNanoseconds { continue }
            if waited < spinNanoseconds + yieldNanoseconds { mlpsh_yield(); continue }
            break
        }
        while true {
            sleeping.store(true, ordering: .sequentiallyConsistent)
            if done() { break }
            sleeper.wait()
            if done() { break }
        }
        sleeping.store(false, ordering: .sequentiallyConsistent)
        return false
    }

    /// One thread and its mailbox, with three counters that only grow: `posted` (jobs given),
    /// `claimed` (jobs someone has started: the worker, or the poster taking one back) and
    /// `completed`. A job is claimed by whoever moves `claimed` from n - 1 to n first.
    final class Worker: @unchecked Sendable {
        private let posted = Atomic<Int>(0)
        private let claimed = Atomic<Int>(0)
        private let completed = Atomic<Int>(0)
        /// Set while the worker sleeps for a job, and while the poster sleeps for completion.
        private let workerSleeping = Atomic<Bool>(false)
        private let posterSleeping = Atomic<Bool>(false)
        private let workerWake = DispatchSemaphore(value: 0)
        private let posterWake = DispatchSemaphore(value: 0)
        private var job: (() -> Void)?

        init(index: Int, startsThread: Bool) {
            guard startsThread else { return }
            let thread = Thread { [unowned self] in self.loop() }
            thread.name = "mlpsh-worker-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }

        func post(_ work: @escaping () -> Void) {
            job = work
            posted.add(1, ordering: .sequentiallyConsistent)
            if workerSleeping.load(ordering: .sequentiallyConsistent) { workerWake.signal() }
        }

        /// Returns when the last job posted is done: run here if the worker has not started it.
        /// Says whether the worker ran it.
        @discardableResult
        func finish() -> Bool {
            let n = posted.load(ordering: .relaxed)
            if claimed.compareExchange(expected: n - 1, desired: n, ordering: .acquiringAndReleasing).exchanged {
                job!()
                completed.store(n, ordering: .releasing)
                return false
            }
            Parallel.await({ completed.load(ordering: .sequentiallyConsistent) == n }, sleeping: posterSleeping, sleeper: posterWake)
            return true
        }

        private func loop() {
            while true {
                let c = claimed.load(ordering: .acquiring)
                Parallel.await({ posted.load(ordering: .sequentiallyConsistent) != c }, sleeping: workerSleeping, sleeper: workerWake)
                // The poster waits for each job before it posts the next, so posted is c + 1.
                guard claimed.compareExchange(expected: c, desired: c + 1, ordering: .acquiringAndReleasing).exchanged else {
                    continue  // taken back by the poster
                }
                job!()
                completed.store(c + 1, ordering: .sequentiallyConsistent)
                if posterSleeping.load(ordering: .sequentiallyConsistent) { posterWake.signal() }
            }
        }
    }
}
