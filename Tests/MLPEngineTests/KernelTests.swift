import XCTest
@testable import MLPEngine

/// Each SIMD kernel gives, bit for bit, what its plain loop gives, at every length around the
/// vector width (the remainder loop included).
final class KernelTests: XCTestCase {
    private func values(_ n: Int, seed: UInt64) -> [Float] {
        var r = RandomSource(seed: seed)
        return (0..<n).map { i in i % 7 == 3 ? 0 : r.uniform(-3, 3) }
    }

    private func bits(_ a: [Float]) -> [UInt32] { a.map(\.bitPattern) }

    func testReluAndItsBackward() {
        for n in 0...40 {
            let x = values(n, seed: 1), dy = values(n, seed: 2)
            var y = [Float](repeating: .nan, count: n), dx = y
            Kernels.relu(x, &y, n)
            Kernels.reluBackward(x, dy, &dx, n)
            XCTAssertEqual(bits(y), bits(x.map { $0 > 0 ? $0 : 0 }), "n=\(n)")
            XCTAssertEqual(bits(dx), bits(zip(x, dy).map { $0 > 0 ? $1 : 0 }), "n=\(n)")
        }
    }

    func testBiasRowsAndColumnSums() {
        for n in [1, 7, 8, 9, 17, 120] {
            let rows = 5
            let b = values(n, seed: 3), c = values(rows * n, seed: 4)
            var out = c
            Kernels.addRow(b, to: &out, rows: rows, n)
            XCTAssertEqual(bits(out), bits(c.enumerated().map { $1 + b[$0 % n] }), "n=\(n)")
            var sums = b
            Kernels.addRows(c, rows: rows, n, into: &sums)
            var expected = b
            for r in 0..<rows { for j in 0..<n { expected[j] += c[r * n + j] } }
            XCTAssertEqual(bits(sums), bits(expected), "n=\(n)")
        }
    }

    func testSGDStepAndByteScaling() {
        for n in 0...40 {
            var w = values(n, seed: 5)
            let g = values(n, seed: 6)
            let expected = zip(w, g).map { $0 - Float(0.005) * $1 }
            Kernels.sgdStep(&w, g, lr: 0.005, n)
            XCTAssertEqual(bits(w), bits(expected), "n=\(n)")
            XCTAssertEqual(g, values(n, seed: 6), "the gradient is read, not zeroed")
        }
        let bytes = (0..<300).map { UInt8($0 % 256) }
        var y = [Float](repeating: .nan, count: 300)
        Kernels.bytesToUnit(bytes, &y, 300)
        XCTAssertEqual(bits(y), bits(bytes.map { Float($0) / 255 }))
    }
}
