import XCTest
@testable import MLPEngine

/// Worked values for the losses, as nn.CrossEntropyLoss, nn.NLLLoss and nn.MSELoss compute them.
///
/// The logits used throughout: row a = [1, 2, 3], row b = [1, 0, -1], row c = [0.5, 0.5, 2].
///   log Σ e^x for a: 3 + log(1 + e⁻¹ + e⁻²) = 3 + 0.4076059644
///   softmax(a) = [0.0900305732, 0.2447284711, 0.6652409558]; softmax(b) is its reverse
///   -log softmax(a)[2] = 0.4076059644 = -log softmax(b)[0];  -log softmax(b)[1] = 1.4076059644
///   -log softmax(c)[1] = 2 + log(1 + 2e^-1.5) - 0.5 = 1.8689811354;  softmax(c) = [0.1542808, 0.1542808, 0.6914385]
///   Σ_c -log softmax(a)_c = 4.2228178933 (the same for b);  for c: 4.1069434062
final class CrossEntropyTests: XCTestCase {
    private let a: [Float] = [1, 2, 3], b: [Float] = [1, 0, -1], c: [Float] = [0.5, 0.5, 2]
    private let softmaxA: [Double] = [0.0900305732, 0.2447284711, 0.6652409558]
    private let softmaxC: [Double] = [0.1542808, 0.1542808, 0.6914385]

    private func loss(_ name: String, _ options: [String: String] = [:]) throws -> Loss {
        let entry = try Registries.shared.losses.lookup(name)
        return try entry.make(Arguments(options: try Options(options, specs: entry.options, owner: "loss \(name)")))
    }

    /// The loss and its gradient for `rows` (each of 3 classes) and `targets`.
    private func compute(_ l: Loss, _ rows: [[Float]], _ targets: [Int32]) throws -> (Double, [[Double]]) {
        let flat = rows.flatMap { $0 }, cols = rows[0].count
        var gradient = [Float](repeating: .nan, count: flat.count)   // must be overwritten everywhere
        let value = try targets.withUnsafeBufferPointer {
            try l.compute(output: flat, rows: rows.count, cols: cols, targets: $0.baseAddress!, gradient: &gradient)
        }
        // Without a gradient buffer the value is the same.
        let valueOnly = try targets.withUnsafeBufferPointer {
            try l.compute(output: flat, rows: rows.count, cols: cols, targets: $0.baseAddress!, gradient: nil)
        }
        XCTAssertEqual(value, valueOnly)
        return (Double(value), (0..<rows.count).map { r in (0..<cols).map { Double(gradient[r * cols + $0]) } })
    }

    private func assertRows(_ actual: [[Double]], _ expected: [[Double]], accuracy: Double = 1e-6,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, file: file, line: line)
        for (r, (x, y)) in zip(actual, expected).enumerated() {
            for (j, (u, v)) in zip(x, y).enumerated() {
                XCTAssertEqual(u, v, accuracy: accuracy, "gradient [\(r), \(j)]", file: file, line: line)
            }
        }
    }

    // MARK: - cross_entropy

    func testPlainCrossEntropyIsTheMeanOfMinusLogSoftmax() throws {
        // targets [2, 0]: mean(0.4076059644, 0.4076059644) = 0.4076059644
        // gradient = (softmax - onehot)/2: row a = [0.0450153, 0.1223642, -0.1673795], row b reversed
        let (value, grad) = try compute(try loss("cross_entropy"), [a, b], [2, 0])
        XCTAssertEqual(value, 0.4076059644, accuracy: 1e-6)
        assertRows(grad, [[0.0450152866, 0.1223642355, -0.1673795221], [-0.1673795221, 0.1223642355, 0.0450152866]])

        // targets [2, 1]: (0.4076059644 + 1.4076059644)/2 = 0.9076059644
        XCTAssertEqual(try compute(try loss("cross_entropy"), [a, b], [2, 1]).0, 0.9076059644, accuracy: 1e-6)
    }

    func testClassWeightsDivideByTheWeightsOfTheTargets() throws {
        // weight [1, 2, 3], targets [2, 1]: (3·0.4076059644 + 2·1.4076059644)/(3 + 2) = 0.8076059644
        // gradient row a = 3·(softmax(a) - e₂)/5, row b = 2·(softmax(b) - e₁)/5
        let (value, grad) = try compute(try loss("cross_entropy", ["weight": "1,2,3"]), [a, b], [2, 1])
        XCTAssertEqual(value, 0.8076059644, accuracy: 1e-6)
        assertRows(grad, [[0.0540183439, 0.1468370826, -0.2008554265], [0.2660963823, -0.3021086116, 0.0360122293]])
    }

    func testIgnoredTargetCountsForNothing() throws {
        // targets [2, -100, 1] (default ignore_index -100): mean over rows a and c only:
        // (0.4076059644 + 1.8689811354)/2 = 1.1382935499; row b's gradient is 0
        let (value, grad) = try compute(try loss("cross_entropy"), [a, b, c], [2, -100, 1])
        XCTAssertEqual(value, 1.1382935499, accuracy: 1e-6)
        assertRows(grad, [[0.0450152866, 0.1223642355, -0.1673795221], [0, 0, 0],
                          [0.0771403865, -0.4228596135, 0.3457192270]])

        // The same with ignore_index=0 and a target 0 in row b.
        let (value0, grad0) = try compute(try loss("cross_entropy", ["ignore_index": "0"]), [a, b, c], [2, 0, 1])
        XCTAssertEqual(value0, 1.1382935499, accuracy: 1e-6)
        XCTAssertEqual(grad0[1], [0, 0, 0])
    }

    func testAllTargetsIgnoredGivesZeroLossAndZeroGradientNotNaN() throws {
        for options in [["ignore_index": "0"], ["ignore_index": "0", "weight": "1,2,3"],
                        ["ignore_index": "0", "label_smoothing": "0.1"]] {
            let (value, grad) = try compute(try loss("cross_entropy", options), [a, b], [0, 0])
            XCTAssertEqual(value, 0, "\(options)")
            XCTAssertEqual(grad, [[0, 0, 0], [0, 0, 0]], "\(options)")
        }
        let (nllValue, nllGrad) = try compute(try loss("nll", ["ignore_index": "1"]), [a, b], [1, 1])
        XCTAssertEqual(nllValue, 0)
        XCTAssertEqual(nllGrad, [[0, 0, 0], [0, 0, 0]])
    }

    func testLabelSmoothingWithoutWeights() throws {
        // ε = 0.1, C = 3, targets [2, 0]: (1-ε)·nll + ε/C · Σ_rows Σ_c -log p_c / N
        // = 0.9·0.4076059644 + 0.1/3 · (4.2228178933 + 4.2228178933)/2 = 0.3668453680 + 0.1407605964 = 0.5076059644
        // gradient row a = 0.9·(p - e₂)/2 + 0.1/(3·2)·(3p - 1) = [0.0283486199, 0.1056975689, -0.1340461888]
        let (value, grad) = try compute(try loss("cross_entropy", ["label_smoothing": "0.1"]), [a, b], [2, 0])
        XCTAssertEqual(value, 0.5076059644, accuracy: 1e-6)
        assertRows(grad, [[0.0283486199, 0.1056975689, -0.1340461888], [-0.1340461888, 0.1056975689, 0.0283486199]])
    }

    func testLabelSmoothingWithWeights() throws {
        // weight [1, 2, 3], ε = 0.1, targets [2, 1]: the smoothing term Σ_rows -Σ_c w_c log p_c is
        // divided by the sum of the targets' weights (5), as the nll term is:
        // Σ_c -w_c log p_c: row a = 1·2.4076060 + 2·1.4076060 + 3·0.4076060 = 6.4456357867
        //                   row b = 1·0.4076060 + 2·1.4076060 + 3·2.4076060 = 10.4456357867
        // 0.9·0.8076059644 + 0.1/3·(6.4456357867 + 10.4456357867)/5 = 0.7268453680 + 0.1126084772 = 0.8394538452
        let (value, _) = try compute(try loss("cross_entropy", ["weight": "1,2,3", "label_smoothing": "0.1"]), [a, b], [2, 1])
        XCTAssertEqual(value, 0.8394538452, accuracy: 1e-6)

        // With row b ignored: nll = (3·0.4076059644 + 2·1.8689811354)/5; smooth = (6.4456357867 + Σ_c -w_c log softmax(c)_c)/5
        // = 0.9·1.2121560328 + 0.1/3·(6.4456357867 + 10.2005434979)/5 = 0.9806705802
        let (ignored, grad) = try compute(try loss("cross_entropy", ["weight": "1,2,3", "label_smoothing": "0.1"]),
                                          [a, b, c], [2, -100, 1])
        XCTAssertEqual(ignored, 0.9806705802, accuracy: 1e-6)
        XCTAssertEqual(grad[1], [0, 0, 0])
    }

    /// PyTorch divides the unweighted smoothing term by the number of targets counted (rows
    /// whose target is not ignore_index): aten/src/ATen/native/LossNLL.cpp,
    /// cross_entropy_loss_label_smoothing, `ret = smooth_loss.sum() / true_mask.sum()`
    /// (the fix of pytorch/pytorch#73205). Dividing by every row N, ignored ones included,
    /// was the behaviour of PyTorch 1.10/1.11 that issue reported as a bug.
    func testLabelSmoothingWithIgnoredRowsDividesByTheRowsCounted() throws {
        // ε = 0.1, targets [2, -100, 1]: 0.9·(0.4076059644 + 1.8689811354)/2 + 0.1/3·(4.2228178933 + 4.1069434062)/2
        // = 1.0244641949 + 0.1388293550 = 1.1632935499   (dividing the second term by 3 rows gives 1.1170170983)
        let (value, grad) = try compute(try loss("cross_entropy", ["label_smoothing": "0.1"]), [a, b, c], [2, -100, 1])
        XCTAssertEqual(value, 1.1632935499, accuracy: 1e-6,
                       "label smoothing's uniform term must be normalised by the 2 rows counted, not all 3")
        // Row a's gradient: 0.9·(p - e₂)/2 + 0.1/(3·2)·(3p - 1), as without the ignored row.
        assertRows([grad[0], grad[1]], [[0.0283486199, 0.1056975689, -0.1340461888], [0, 0, 0]])
    }

    func testReductionSum() throws {
        // sum: 0.4076059644 + 0.4076059644 = 0.8152119289; its gradient is softmax - onehot
        let (value, grad) = try compute(try loss("cross_entropy", ["reduction": "sum"]), [a, b], [2, 0])
        XCTAssertEqual(value, 0.8152119289, accuracy: 1e-6)
        assertRows([grad[0]], [[0.0900305732, 0.2447284711, -0.3347590442]])
        // weighted sum: 3·0.4076059644 + 1·0.4076059644 = 1.6304238578 (no division)
        XCTAssertEqual(try compute(try loss("cross_entropy", ["reduction": "sum", "weight": "1,2,3"]), [a, b], [2, 0]).0,
                       1.6304238578, accuracy: 1e-6)
        // with smoothing: 0.9·0.8152119289 + 0.1/3·8.4456357867 = 1.0152119289
        XCTAssertEqual(try compute(try loss("cross_entropy", ["reduction": "sum", "label_smoothing": "0.1"]), [a, b], [2, 0]).0,
                       1.0152119289, accuracy: 1e-6)
    }

    func testTargetOutOfRangeIsAnErrorNamingTheTarget() throws {
        for name in ["cross_entropy", "nll", "mse"] {
            let l = try loss(name)
            for bad: Int32 in [3, -1, 7] {
                XCTAssertThrowsError(try compute(l, [a, b], [0, bad]), "\(name) target \(bad)") { error in
                    let message = (error as? EngineError)?.message ?? "\(error)"
                    XCTAssertTrue(message.contains("target \(bad)"), message)
                    XCTAssertTrue(message.contains("3 outputs"), message)
                }
            }
        }
    }

    func testWeightCountMustMatchTheOutputs() throws {
        XCTAssertThrowsError(try compute(try loss("cross_entropy", ["weight": "1,2"]), [a, b], [0, 1])) { error in
            XCTAssertTrue("\(error)".contains("2 values"), "\(error)")
        }
        XCTAssertThrowsError(try loss("cross_entropy", ["weight": "1,x,3"]))
        XCTAssertThrowsError(try loss("cross_entropy", ["weight": "1,-2,3"]))
        XCTAssertThrowsError(try loss("cross_entropy", ["label_smoothing": "1.5"]))
        XCTAssertThrowsError(try loss("cross_entropy", ["reduction": "none"]))
    }

    // MARK: - nll, mse

    func testNLL() throws {
        // Outputs taken as log-probabilities: [[-0.5, -1.2, -2.0], [-0.1, -3.0, -2.5]], targets [2, 0]
        // mean: (2.0 + 0.1)/2 = 1.05; gradient -1/2 at each target
        let rows: [[Float]] = [[-0.5, -1.2, -2.0], [-0.1, -3.0, -2.5]]
        let (value, grad) = try compute(try loss("nll"), rows, [2, 0])
        XCTAssertEqual(value, 1.05, accuracy: 1e-6)
        assertRows(grad, [[0, 0, -0.5], [-0.5, 0, 0]])
        // weight [1, 2, 3]: (3·2.0 + 1·0.1)/(3 + 1) = 1.525; gradient -3/4 and -1/4
        let (weighted, wgrad) = try compute(try loss("nll", ["weight": "1,2,3"]), rows, [2, 0])
        XCTAssertEqual(weighted, 1.525, accuracy: 1e-6)
        assertRows(wgrad, [[0, 0, -0.75], [-0.25, 0, 0]])
        // sum: 2.1
        XCTAssertEqual(try compute(try loss("nll", ["reduction": "sum"]), rows, [2, 0]).0, 2.1, accuracy: 1e-6)
    }

    func testMSEAgainstOneHotTargets() throws {
        // out [[0.5, 0.2, -0.3], [0.1, 0.9, 0.4]], targets [0, 1]: differences from one-hot
        // [[-0.5, 0.2, -0.3], [0.1, -0.1, 0.4]]; squares sum 0.25+0.04+0.09+0.01+0.01+0.16 = 0.56
        // mean over 6 elements: 0.0933333; gradient 2·d/6
        let rows: [[Float]] = [[0.5, 0.2, -0.3], [0.1, 0.9, 0.4]]
        let (value, grad) = try compute(try loss("mse"), rows, [0, 1])
        XCTAssertEqual(value, 0.56 / 6, accuracy: 1e-7)
        assertRows(grad, [[-1.0 / 6, 0.4 / 6, -0.6 / 6], [0.2 / 6, -0.2 / 6, 0.8 / 6]])
        XCTAssertEqual(try compute(try loss("mse", ["reduction": "sum"]), rows, [0, 1]).0, 0.56, accuracy: 1e-6)
    }
}
