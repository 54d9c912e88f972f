import XCTest
@testable import MLPEngine

final class RandomTests: XCTestCase {
    /// torch.manual_seed(0); torch.rand(4) → tensor([0.4963, 0.7682, 0.0885, 0.1320])
    func testSeedZeroReproducesTorchRand() {
        var r = RandomSource(seed: 0)
        let values = (0..<4).map { _ in r.uniform() }
        XCTAssertEqual(values[0], 0.4963, accuracy: 5e-5)
        XCTAssertEqual(values[1], 0.7682, accuracy: 5e-5)
        XCTAssertEqual(values[2], 0.0885, accuracy: 5e-5)
        XCTAssertEqual(values[3], 0.1320, accuracy: 5e-5)
        // Exactly: the low 24 bits of the first two mt19937 outputs over 2^24.
        XCTAssertEqual(values[0], 0.49625658988952637)
        XCTAssertEqual(values[1], 0.7682217955589294)
    }

    /// The C++ standard's check value: the 10000th output of std::mt19937 (seed 5489) is
    /// 4123659995; its first output is 3499211612.
    func testMersenneTwisterReferenceOutputs() {
        var r = RandomSource(seed: 5489)
        XCTAssertEqual(r.next32(), 3_499_211_612)
        for _ in 0..<9998 { _ = r.next32() }
        XCTAssertEqual(r.next32(), 4_123_659_995)
    }

    func testUniformRangeAndGeneratorReseed() {
        var r = RandomSource(seed: 3)
        for _ in 0..<10000 {
            let u = r.uniform(-2, 5)
            XCTAssert(u >= -2 && u < 5)
        }
        let g = RandomGenerator(seed: 9)
        let first = (0..<5).map { _ in g.source.next32() }
        g.reseed(9)
        XCTAssertEqual((0..<5).map { _ in g.source.next32() }, first)
        XCTAssertEqual(g.seed, 9)
    }

    func testNormalHasUnitMoments() {
        var r = RandomSource(seed: 1)
        let n = 200_000
        var sum = 0.0, sq = 0.0
        for _ in 0..<n { let v = r.normal(); sum += v; sq += v * v }
        let mean = sum / Double(n)
        XCTAssertEqual(mean, 0, accuracy: 0.01)
        XCTAssertEqual(sq / Double(n) - mean * mean, 1, accuracy: 0.01)
    }

    private func shuffled(seed: UInt64, n: Int = 100) -> [Int32] {
        var r = RandomSource(seed: seed)
        var order = (0..<Int32(n)).map { $0 }
        r.shuffle(&order)
        return order
    }

    func testSameSeedGivesTheSameShuffle() {
        XCTAssertEqual(shuffled(seed: 42), shuffled(seed: 42))
    }

    func testDifferentSeedsGiveDifferentShuffles() {
        XCTAssertNotEqual(shuffled(seed: 42), shuffled(seed: 43))
        XCTAssertNotEqual(shuffled(seed: 0), shuffled(seed: 1))
    }

    func testShuffleIsAPermutation() {
        for seed: UInt64 in [0, 1, 7, 12345] {
            let order = shuffled(seed: seed, n: 1000)
            XCTAssertEqual(order.sorted(), (0..<Int32(1000)).map { $0 })
            XCTAssertNotEqual(order, (0..<Int32(1000)).map { $0 }, "seed \(seed) left the order unchanged")
        }
        var r = RandomSource(seed: 0)
        var one: [Int32] = [5]
        r.shuffle(&one)
        XCTAssertEqual(one, [5])
        var none: [Int32] = []
        r.shuffle(&none)
        XCTAssertEqual(none, [])
    }

    /// randperm's order on the CPU: for i in 0..<n-1, swap i with i + random() % (n - i).
    func testShuffleFollowsRandpermsSwapOrder() {
        var r = RandomSource(seed: 5)
        var expected: [Int32] = [0, 1, 2, 3, 4, 5]
        for i in 0..<5 {
            let z = Int(r.next32() % UInt32(6 - i))
            expected.swapAt(i, i + z)
        }
        XCTAssertEqual(shuffled(seed: 5, n: 6), expected)
    }
}
