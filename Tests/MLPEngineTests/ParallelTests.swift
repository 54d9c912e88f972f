import XCTest
@testable import MLPEngine

/// The engine's own splitting of work across cores: every piece runs once, and a split product
/// equals the same product computed by a plain triple loop.
final class ParallelTests: XCTestCase {
    func testEveryPieceAndSliceRunsOnce() {
        let p = Parallel.shared
        for _ in 0..<1000 {
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: p.ways)
            hits.initialize(repeating: 0, count: p.ways)
            p.run(p.ways) { hits[$0] += 1 }
            XCTAssertEqual(Array(UnsafeBufferPointer(start: hits, count: p.ways)), [Int](repeating: 1, count: p.ways))
            hits.deallocate()
        }
        for n in [0, 1, 5, 16_383, 16_384, 100_001] {
            let seen = UnsafeMutablePointer<UInt8>.allocate(capacity: max(n, 1))
            seen.initialize(repeating: 0, count: max(n, 1))
            p.forEachSlice(of: n) { start, count in for i in start..<(start + count) { seen[i] += 1 } }
            XCTAssertTrue(UnsafeBufferPointer(start: seen, count: n).allSatisfy { $0 == 1 }, "n=\(n)")
            seen.deallocate()
        }
    }

    /// After a long pause the worker sleeps; the next piece of work still runs.
    func testWorkRunsAfterTheWorkerHasGoneToSleep() {
        Thread.sleep(forTimeInterval: 0.05)
        var ran = [false, false]
        ran.withUnsafeMutableBufferPointer { r in
            let base = r.baseAddress!
            Parallel.shared.run(min(2, Parallel.shared.ways)) { base[$0] = true }
        }
        XCTAssertTrue(ran[0])
        if Parallel.shared.ways > 1 { XCTAssertTrue(ran[1]) }
    }

    func testSplitProductsMatchAPlainLoop() {
        var random = RandomSource(seed: 9)
        // Shapes above the threshold, split by rows and by columns, transposed or not, with odd sizes.
        for (m, n, k) in [(64, 120, 784), (7, 301, 1000), (250, 9, 1000), (120, 784, 64)] {
            for (ta, tb) in [(false, true), (true, false), (false, false)] {
                for split in [BLAS.Split.rows, .columns] {
                    let a = (0..<(m * k)).map { _ in random.uniform(-1, 1) }
                    let b = (0..<(k * n)).map { _ in random.uniform(-1, 1) }
                    var c = [Float](repeating: 0, count: m * n)
                    BLAS.gemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: ta ? m : k, b: b, ldb: tb ? k : n,
                              beta: 0, c: &c, ldc: n, split: split)
                    var worst = 0.0
                    for i in 0..<m {
                        for j in 0..<n {
                            var s = 0.0
                            for p in 0..<k {
                                s += Double(ta ? a[p * m + i] : a[i * k + p]) * Double(tb ? b[j * k + p] : b[p * n + j])
                            }
                            worst = max(worst, abs(s - Double(c[i * n + j])))
                        }
                    }
                    XCTAssertLessThan(worst, 1e-3, "\(m)x\(n)x\(k) ta=\(ta) tb=\(tb) \(split)")
                }
            }
        }
    }
}

/// Waiting on a machine shared with other programs: a piece whose worker never runs is taken
/// back by the caller, more pieces than cores still each run once, and the default thread
/// count follows the environment, the affinity mask and the cgroup's quota.
final class SharedMachineTests: XCTestCase {
    func testPiecesWhoseWorkersNeverRunAreTakenBack() {
        let p = Parallel(ways: 4, source: "test", maximumWays: 4, startsThreads: false)
        XCTAssertEqual(p.ways, 4)
        for i in 0..<100 {
            // After a window of runs whose pieces were all taken back, the caller stops posting.
            XCTAssertEqual(p.isAlone, i >= Parallel.window, "run \(i)")
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: 4)
            hits.initialize(repeating: 0, count: 4)
            p.run(4) { hits[$0] += 1 }
            XCTAssertEqual(Array(UnsafeBufferPointer(start: hits, count: 4)), [1, 1, 1, 1])
            hits.deallocate()
        }
    }

    /// Eight threads on however many cores there are: workers sleep, wake, and lose pieces to
    /// the caller, and every piece still runs exactly once.
    func testMoreThreadsThanCoresRunEveryPieceOnce() {
        let p = Parallel(ways: 8, source: "test", maximumWays: 8)
        for round in 0..<2_000 {
            let count = 1 + round % p.ways
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
            hits.initialize(repeating: 0, count: count)
            p.run(count) { i in
                if round % 97 == 0 { Thread.sleep(forTimeInterval: 0.0005) }
                hits[i] += 1
            }
            XCTAssertEqual(Array(UnsafeBufferPointer(start: hits, count: count)), [Int](repeating: 1, count: count), "round \(round)")
            hits.deallocate()
            if round % 500 == 0 { Thread.sleep(forTimeInterval: 0.01) }  // let the workers fall asleep
        }
    }

    func testTheEnvironmentWinsInItsOrder() {
        let facts = (affinity: 1, quota: 0.5 as Double?, cores: 8)
        func resolve(_ env: [String: String]) -> ThreadCount {
            ThreadCount.resolve(environment: env, affinity: facts.affinity, quota: facts.quota, cores: facts.cores)
        }
        XCTAssertEqual(resolve(["MLPSH_THREADS": "3", "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "5"]).description, "3 (MLPSH_THREADS)")
        XCTAssertEqual(resolve(["OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "5"]).description, "2 (OPENBLAS_NUM_THREADS)")
        XCTAssertEqual(resolve(["OMP_NUM_THREADS": "4,2"]).description, "4 (OMP_NUM_THREADS)")
        let bad = resolve(["MLPSH_THREADS": "many", "OMP_NUM_THREADS": "0"])
        XCTAssertEqual(bad.description, "1 (affinity)")
        XCTAssertEqual(bad.ignored, ["MLPSH_THREADS=many", "OMP_NUM_THREADS=0"])
    }

    func testAffinityAndQuotaBoundTheCores() {
        XCTAssertEqual(ThreadCount.resolve(environment: [:], affinity: 8, quota: nil, cores: 8).description, "8 (cores)")
        XCTAssertEqual(ThreadCount.resolve(environment: [:], affinity: 0, quota: nil, cores: 4).description, "4 (cores)")
        XCTAssertEqual(ThreadCount.resolve(environment: [:], affinity: 1, quota: nil, cores: 2).description, "1 (affinity)")
        XCTAssertEqual(ThreadCount.resolve(environment: [:], affinity: 4, quota: 1.5, cores: 8).description, "1 (cgroup quota)")
        XCTAssertEqual(ThreadCount.resolve(environment: [:], affinity: 2, quota: 3, cores: 8).description, "2 (affinity)")
        XCTAssertEqual(ThreadCount.resolve(environment: [:], affinity: 8, quota: 0.2, cores: 8).description, "1 (cgroup quota)")
    }

    func testTheCgroupFoldersAreFoundFromTheMounts() {
        let v2 = ThreadCount.cgroupFolders(
            cgroup: "0::/user.slice/job\n",
            mountinfo: "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n")
        XCTAssertEqual(v2, ["/sys/fs/cgroup/user.slice/job", "/sys/fs/cgroup/user.slice", "/sys/fs/cgroup"])
        // A container's v1 mount whose root is its own group.
        let v1 = ThreadCount.cgroupFolders(
            cgroup: "4:memory:/docker/abc\n1:cpu,cpuacct:/docker/abc\n",
            mountinfo: "40 30 0:35 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct\n"
                + "41 30 0:36 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n")
        XCTAssertEqual(v1, ["/sys/fs/cgroup/cpu,cpuacct"])
    }

    func testQuotasAreReadFromEitherVersionsFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("quota-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "150000 100000\n".write(toFile: dir + "/cpu.max", atomically: true, encoding: .utf8)
        XCTAssertEqual(ThreadCount.quotaIn(folder: dir), 1.5)
        try "max 100000\n".write(toFile: dir + "/cpu.max", atomically: true, encoding: .utf8)
        XCTAssertNil(ThreadCount.quotaIn(folder: dir))
        try FileManager.default.removeItem(atPath: dir + "/cpu.max")
        try "-1\n".write(toFile: dir + "/cpu.cfs_quota_us", atomically: true, encoding: .utf8)
        try "100000\n".write(toFile: dir + "/cpu.cfs_period_us", atomically: true, encoding: .utf8)
        XCTAssertNil(ThreadCount.quotaIn(folder: dir))
        try "250000\n".write(toFile: dir + "/cpu.cfs_quota_us", atomically: true, encoding: .utf8)
        XCTAssertEqual(ThreadCount.quotaIn(folder: dir), 2.5)
    }
}
