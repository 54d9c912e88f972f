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
