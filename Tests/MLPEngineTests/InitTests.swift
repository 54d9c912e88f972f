import XCTest
@testable import MLPEngine

final class InitTests: XCTestCase {
    private func scheme(_ name: String, _ options: [String: String] = [:]) throws -> InitScheme {
        let entry = try Registries.shared.initializers.lookup(name)
        return try entry.make(Arguments(options: try Options(options, specs: entry.options, owner: "init \(name)")))
    }

    /// Applies `name` to a fresh [out, in] weight and [1, out] bias.
    private func initialised(_ name: String, out: Int, in inWidth: Int, seed: UInt64 = 0,
                             options: [String: String] = [:]) throws -> (Tensor, Tensor) {
        let w = Parameter(name: "weight", shape: [out, inWidth]), b = Parameter(name: "bias", shape: [out])
        w.value.fill(99)
        b.value.fill(99)
        try scheme(name, options).apply(w, b, RandomGenerator(seed: seed))
        return (w.value, b.value)
    }

    func testDefaultIsUniformWithinOneOverSqrtFanIn() throws {
        let (w, b) = try initialised("default", out: 120, in: 784)
        let bound = Float(1 / (784.0).squareRoot())   // 0.0357143
        XCTAssertTrue(w.array.allSatisfy { abs($0) <= bound })
        XCTAssertTrue(b.array.allSatisfy { abs($0) <= bound })
        // Uniform: it fills the range (max near the bound), mean near 0, variance bound²/3.
        XCTAssertGreaterThan(w.array.map(abs).max()!, bound * 0.999)
        let n = Double(w.count), mean = w.array.reduce(0.0) { $0 + Double($1) } / n
        let variance = w.array.reduce(0.0) { $0 + Double($1) * Double($1) } / n - mean * mean
        XCTAssertEqual(mean, 0, accuracy: 0.001)
        XCTAssertEqual(variance, Double(bound * bound) / 3, accuracy: Double(bound * bound) / 3 * 0.03)
    }

    /// A new linear layer starts as nn.Linear: the weight drawn first, row by row, then the bias.
    func testLinearLayerDrawsWeightThenBiasFromTheSeed() throws {
        let linear = Linear(inputWidth: 4, outputWidth: 2, random: RandomGenerator(seed: 0))
        var r = RandomSource(seed: 0)
        let bound: Float = 0.5
        let expected = (0..<10).map { _ in r.uniform(-bound, bound) }
        XCTAssertEqual(linear.weight.value.array, Array(expected[0..<8]))
        XCTAssertEqual(linear.bias.value.array, Array(expected[8..<10]))
        // torch.manual_seed(0); torch.rand(1)*2*0.5-0.5 = 0.4963*1 - 0.5 = -0.0037
        XCTAssertEqual(linear.weight.value.data[0], -0.00374341, accuracy: 1e-6)
    }

    func testXavierUniformBounds() throws {
        let (w, b) = try initialised("xavier_uniform", out: 84, in: 120)
        let bound = Float((6.0 / (120.0 + 84.0)).squareRoot())   // 0.171499
        XCTAssertTrue(w.array.allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(w.array.map(abs).max()!, bound * 0.99)
        XCTAssertEqual(b.array, [Float](repeating: 0, count: 84), "bias=zero is the default")
        let (g, kept) = try initialised("xavier_uniform", out: 84, in: 120, options: ["gain": "2", "bias": "keep"])
        XCTAssertTrue(g.array.allSatisfy { abs($0) <= 2 * bound })
        XCTAssertGreaterThan(g.array.map(abs).max()!, 2 * bound * 0.99)
        XCTAssertEqual(kept.array, [Float](repeating: 99, count: 84))
    }

    func testKaimingNormalStandardDeviation() throws {
        let (w, _) = try initialised("kaiming_normal", out: 256, in: 512)
        let n = Double(w.count)
        let mean = w.array.reduce(0.0) { $0 + Double($1) } / n
        let std = (w.array.reduce(0.0) { $0 + Double($1) * Double($1) } / n - mean * mean).squareRoot()
        let expected = (2.0 / 512).squareRoot()   // 0.0625
        XCTAssertEqual(std, expected, accuracy: expected * 0.05)
        XCTAssertEqual(mean, 0, accuracy: expected * 0.05)
    }

    private func gram(_ w: Tensor, rowsTimesTranspose: Bool) -> [[Double]] {
        let n = rowsTimesTranspose ? w.rows : w.cols
        var g = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n {
            for j in 0..<n {
                var s = 0.0
                if rowsTimesTranspose {
                    for k in 0..<w.cols { s += Double(w[i, k]) * Double(w[j, k]) }
                } else {
                    for k in 0..<w.rows { s += Double(w[k, i]) * Double(w[k, j]) }
                }
                g[i][j] = s
            }
        }
        return g
    }

    private func assertIdentity(_ g: [[Double]], scale: Double = 1, file: StaticString = #filePath, line: UInt = #line) {
        for i in g.indices {
            for j in g.indices {
                XCTAssertEqual(g[i][j], i == j ? scale : 0, accuracy: 1e-4, "[\(i), \(j)]", file: file, line: line)
            }
        }
    }

    func testOrthogonalWideMatrixHasOrthonormalRows() throws {
        let (w, _) = try initialised("orthogonal", out: 4, in: 8)
        assertIdentity(gram(w, rowsTimesTranspose: true))          // W·Wᵀ = I₄
    }

    func testOrthogonalTallMatrixHasOrthonormalColumns() throws {
        let (w, _) = try initialised("orthogonal", out: 8, in: 4)
        assertIdentity(gram(w, rowsTimesTranspose: false))         // Wᵀ·W = I₄
        let (square, _) = try initialised("orthogonal", out: 6, in: 6, seed: 3)
        assertIdentity(gram(square, rowsTimesTranspose: true))
        assertIdentity(gram(square, rowsTimesTranspose: false))
        let (scaled, _) = try initialised("orthogonal", out: 8, in: 4, options: ["gain": "2"])
        assertIdentity(gram(scaled, rowsTimesTranspose: false), scale: 4)
    }

    func testInitSchemeOptionsAreChecked() {
        XCTAssertThrowsError(try scheme("xavier_uniform", ["bias": "random"]))
        XCTAssertThrowsError(try scheme("orthogonal", ["gain": "-1"]))
    }
}

/// `seed 0` then the walkthrough's model gives exactly torch.manual_seed(0)'s nn.Linear weights.
/// The reference is PyTorch 2.15's `state_dict()` of
/// `torch.manual_seed(0); nn.Sequential(nn.Linear(784,120), nn.ReLU(), nn.Linear(120,84), nn.ReLU(), nn.Linear(84,10))`,
/// kept small: the FNV-1a 64 hash of each tensor's little-endian float32 bytes and its first four
/// values' bit patterns.
final class TorchInitTests: XCTestCase {
    private let torch: [(name: String, fnv: UInt64, first: [UInt32])] = [
        ("0.weight", 0x2d3522036c624ceb, [0xb98c3000, 0x3c9cf2b5, 0xbcf0ccac, 0xbcd75093]),
        ("0.bias", 0x9aa750fe28b7f3fe, [0x3bd0f4f7, 0x3bda9e25, 0xbcd0a335, 0xbd09b483]),
        ("2.weight", 0x348c7be1fdea3b27, [0x3bbb20a3, 0x3c842217, 0xbcea76d6, 0x3d09bfeb]),
        ("2.bias", 0x5a54084bd16ea550, [0x3cb01efe, 0xbdb51d04, 0x3da59d9b, 0xbdae48b7]),
        ("4.weight", 0x72ad1f1b0693a606, [0xbba0c147, 0x3c582970, 0x3ab3d33f, 0x3d2b02d2]),
        ("4.bias", 0x5235ea501da19e0a, [0x3d90bb4c, 0xbdc920aa, 0x3d51b63a, 0x3ce3f9c7]),
    ]

    private func fnv1a(_ values: [Float]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in values {
            let u = v.bitPattern
            for k in 0..<4 {
                h ^= UInt64((u >> (8 * UInt32(k))) & 0xff)
                h = h &* 0x0000_0100_0000_01b3
            }
        }
        return h
    }

    func testSeedZeroGivesTorchsWeightsBitForBit() throws {
        let specs = [Spec("linear", args: ["784", "120"]), Spec("relu"), Spec("linear", args: ["120", "84"]),
                     Spec("relu"), Spec("linear", args: ["84", "10"])]
        let model = try Sequential.build(specs, inputShape: nil, random: RandomGenerator(seed: 0))
        let params = Dictionary(uniqueKeysWithValues: model.namedParameters)
        for (name, hash, first) in torch {
            let values = try XCTUnwrap(params[name]).value.array
            XCTAssertEqual(values.prefix(4).map(\.bitPattern), first, name)
            XCTAssertEqual(fnv1a(values), hash, "\(name) differs from torch's somewhere")
        }
    }
}
