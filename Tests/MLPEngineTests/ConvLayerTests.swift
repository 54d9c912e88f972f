import XCTest
@testable import MLPEngine

/// Convolution, pooling and batch norm on inputs small enough to work out by hand, and the
/// shape rules that make a model's layers fit.
final class ConvLayerTests: XCTestCase {
    private func layer(_ name: String, _ args: [String], _ options: [String: String] = [:], input: [Int]) throws -> Layer {
        let entry = try Registries.shared.layers.lookup(name)
        return try entry.make(LayerArguments(positional: args, options: try Options(options, specs: entry.options, owner: name),
                                             inputShape: input, random: RandomGenerator(seed: 0)))
    }

    /// A 3x3 image 1..9 and the 2x2 kernel [[1, 0], [0, -1]] (+ bias 0.5): each output is
    /// x[i][j] − x[i+1][j+1] + 0.5 = −4 + 0.5 everywhere. With padding 1 the corners see one pixel.
    func testConvolutionByHand() throws {
        let conv = try XCTUnwrap(try layer("conv2d", ["1", "1", "2"], input: [1, 3, 3]) as? Conv2d)
        XCTAssertEqual(conv.outputShape, [1, 2, 2])
        conv.weight.value.data.update(from: [1, 0, 0, -1], count: 4)
        conv.bias!.value.data[0] = 0.5
        let x = Tensor(shape: [1, 1, 3, 3], values: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        XCTAssertEqual(conv.forward(x).array, [-3.5, -3.5, -3.5, -3.5])
        // Backward with dy = 1 everywhere: dW[a][b] = Σ x over the window offsets = sums of
        // the 2x2 sub-squares: (1+2+4+5), (2+3+5+6), (4+5+7+8), (5+6+8+9); db = 4.
        conv.needsInputGradient = true
        for p in conv.parameters { p.grad.fill(0) }
        let dx = conv.backward(Tensor(shape: [1, 1, 2, 2], values: [1, 1, 1, 1])).array
        XCTAssertEqual(conv.weight.grad.array, [12, 16, 24, 28])
        XCTAssertEqual(conv.bias!.grad.array, [4])
        // dx: each input adds w at the offsets that reach it: +1 at its top-left uses, −1 at its bottom-right.
        XCTAssertEqual(dx, [1, 1, 0, 1, 0, -1, 0, -1, -1])

        let padded = try XCTUnwrap(try layer("conv2d", ["1", "1", "2"], ["padding": "1", "stride": "2", "bias": "false"], input: [1, 3, 3]) as? Conv2d)
        XCTAssertEqual(padded.outputShape, [1, 2, 2])   // (3 + 2 − 2) / 2 + 1
        XCTAssertNil(padded.bias)
        padded.weight.value.data.update(from: [1, 0, 0, -1], count: 4)
        // Windows at rows/cols −1 and 1: [pad, pad; pad, 1] → −1; [pad, pad; 2, 3]... → 0 − x.
        XCTAssertEqual(padded.forward(x).array, [-1, -3, -7, -4] as [Float])
    }

    func testTwoChannelsAndABatch() throws {
        // Two input channels, two images: out = Σ_c w[c]·x[c] with 1x1 kernels.
        let conv = try XCTUnwrap(try layer("conv2d", ["2", "1", "1"], ["bias": "false"], input: [2, 1, 2]) as? Conv2d)
        conv.weight.value.data.update(from: [2, -1], count: 2)
        let x = Tensor(shape: [2, 2, 1, 2], values: [1, 2, 10, 20, 3, 4, 30, 40])
        XCTAssertEqual(conv.forward(x).array, [-8, -16, -24, -32] as [Float])
    }

    /// Outputs, dW, db and dx against the convolution's definition summed in Double, with
    /// and without padding and stride, for channel counts on both sides of the direct kernels'
    /// layouts (positions as lanes below 16 output channels that are not a multiple of 8,
    /// channels as lanes otherwise), kernels 1 to 5, padding past K − 1, and batches that
    /// split across the cores unevenly.
    func testConvolutionMatchesTheDefinition() throws {
        let cases: [(c: Int, o: Int, k: Int, h: Int, w: Int, padding: Int, stride: Int)] = [
            (3, 4, 3, 40, 40, 1, 1), (3, 4, 3, 40, 40, 0, 2), (3, 4, 3, 40, 40, 2, 3),
            (1, 6, 5, 28, 28, 2, 1), (6, 16, 5, 14, 14, 0, 1), (2, 8, 3, 9, 11, 1, 1), (5, 20, 3, 7, 13, 4, 1),
            (4, 6, 1, 6, 5, 0, 1), (3, 17, 2, 8, 8, 1, 2), (2, 3, 5, 5, 9, 3, 1), (16, 24, 3, 6, 6, 1, 1),
            // Winograd's: odd sizes (a last tile half outside), padding 0 and 2, groups of one
            // image (28x28) and of several, channels that are not a multiple of 8, and padding 3
            // (which it leaves to the direct kernels).
            (8, 8, 3, 7, 7, 1, 1), (12, 9, 3, 15, 10, 0, 1), (9, 16, 3, 5, 13, 2, 1), (16, 16, 3, 28, 28, 1, 1),
            (64, 40, 3, 7, 7, 1, 1), (33, 8, 3, 19, 3, 1, 1), (8, 8, 3, 6, 6, 3, 1),
            // Stride 2 as a ResNet's downsampling layers (3x3 padding 1, and its 1x1 shortcut),
            // on odd and even sizes wide enough for the vectorised column sums.
            (5, 16, 3, 29, 37, 1, 2), (6, 8, 1, 33, 18, 0, 2), (4, 8, 5, 40, 21, 2, 2),
        ]
        // Every way: Winograd (the 3x3 layers with stride 1 and 8 or more channels), the direct
        // kernels, and im2col + sgemm (kept for comparison, bench layers conv=im2col).
        for algorithm in ConvAlgorithm.allCases {
            for t in cases {
                try checkAgainstDefinition(t.c, t.o, t.k, t.h, t.w, padding: t.padding, stride: t.stride, batch: 7, algorithm: algorithm)
            }
        }
    }

    /// Which way each layer is computed: Winograd takes 3x3 layers with stride 1, padding at most
    /// 2 and 8 or more channels each side, whose transformed tiles fit its buffers; the direct
    /// kernels the other square, undilated, ungrouped ones; columns the rest, or when asked.
    func testEachLayerIsComputedTheWayItCanBe() throws {
        func way(_ args: [String], _ options: [String: String] = [:], input: [Int]) throws -> ConvAlgorithm {
            try XCTUnwrap(try layer("conv2d", args, options, input: input) as? Conv2d).algorithmInUse
        }
        XCTAssertEqual(try way(["16", "16", "3"], ["padding": "1"], input: [16, 28, 28]), .winograd)
        XCTAssertEqual(try way(["8", "9", "3"], input: [8, 5, 5]), .winograd)
        XCTAssertEqual(try way(["16", "16", "5"], ["padding": "2"], input: [16, 28, 28]), .direct)
        XCTAssertEqual(try way(["16", "32", "3"], ["padding": "1", "stride": "2"], input: [16, 28, 28]), .direct)
        XCTAssertEqual(try way(["4", "16", "3"], ["padding": "1"], input: [4, 28, 28]), .direct)
        XCTAssertEqual(try way(["16", "16", "3"], ["padding": "3"], input: [16, 8, 8]), .direct)
        XCTAssertEqual(try way(["64", "64", "3"], ["padding": "1"], input: [64, 300, 300]), .direct)
        XCTAssertEqual(try way(["16", "16", "3"], ["padding": "1", "groups": "2"], input: [16, 8, 8]), .im2col)
        XCTAssertEqual(try way(["16", "16", "3"], ["dilation": "2"], input: [16, 8, 8]), .im2col)
        let asked = try XCTUnwrap(try layer("conv2d", ["16", "16", "3"], input: [16, 8, 8]) as? Conv2d)
        for algorithm in ConvAlgorithm.allCases {
            asked.algorithm = algorithm
            XCTAssertEqual(asked.algorithmInUse, algorithm)
        }
    }

    private func checkAgainstDefinition(_ c: Int, _ o: Int, _ k: Int, _ h: Int, _ w: Int, padding: Int, stride: Int, batch: Int,
                                        algorithm: ConvAlgorithm) throws {
        let conv = try XCTUnwrap(try layer("conv2d", ["\(c)", "\(o)", "\(k)"],
                                           ["padding": "\(padding)", "stride": "\(stride)"], input: [c, h, w]) as? Conv2d)
        conv.algorithm = algorithm
        let g = conv.geometry, oh = g.outputHeight, ow = g.outputWidth
        var random = RandomSource(seed: 7)
        let x = Tensor(shape: [batch, c, h, w], values: (0..<(batch * c * h * w)).map { _ in random.uniform(-1, 1) })
        let dy = Tensor(shape: [batch, o, oh, ow], values: (0..<(batch * o * oh * ow)).map { _ in random.uniform(-1, 1) })
        let wt = conv.weight.value.array, bias = conv.bias!.value.array, xs = x.array, dys = dy.array
        func input(_ b: Int, _ ch: Int, _ iy: Int, _ ix: Int) -> Double? {
            iy >= 0 && iy < h && ix >= 0 && ix < w ? Double(xs[((b * c + ch) * h + iy) * w + ix]) : nil
        }
        var y = [Double](repeating: 0, count: batch * o * oh * ow), dW = [Double](repeating: 0, count: wt.count)
        var db = [Double](repeating: 0, count: o), dx = [Double](repeating: 0, count: xs.count)
        for b in 0..<batch { for oc in 0..<o { for oy in 0..<oh { for ox in 0..<ow {
            let at = ((b * o + oc) * oh + oy) * ow + ox, g = Double(dys[at])
            var sum = Double(bias[oc])
            db[oc] += g
            for ch in 0..<c { for i in 0..<k { for j in 0..<k {
                let iy = oy * stride - padding + i, ix = ox * stride - padding + j, wi = ((oc * c + ch) * k + i) * k + j
                guard let v = input(b, ch, iy, ix) else { continue }
                sum += Double(wt[wi]) * v
                dW[wi] += g * v
                dx[((b * c + ch) * h + iy) * w + ix] += g * Double(wt[wi])
            } } }
            y[at] = sum
        } } } }
        let name = "conv2d \(c) \(o) \(k) padding=\(padding) stride=\(stride) on \(h)x\(w), \(conv.algorithmInUse)"
        func close(_ a: [Float], _ b: [Double], _ what: String) {
            XCTAssertEqual(a.count, b.count, what)
            let worst = zip(a, b).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-4, "\(what), \(name)")
        }
        // Twice, so that the second pass runs on the buffers the first left.
        for _ in 0..<2 {
            close(conv.forward(x).array, y, "output")
            conv.needsInputGradient = true
            for p in conv.parameters { p.clearGradient() }
            let gx = conv.backward(dy).array
            close(conv.weight.grad.array, dW, "dW")
            close(conv.bias!.grad.array, db, "db")
            close(gx, dx, "dx")
        }
    }

    func testMaxPoolKeepsTheFirstMaximumAndRoutesTheGradient() throws {
        let pool = try layer("maxpool2d", ["2"], input: [1, 2, 4])
        XCTAssertEqual(pool.outputShape, [1, 1, 2])
        let x = Tensor(shape: [1, 1, 2, 4], values: [1, 5, 7, 7, 3, 2, 0, 7])
        XCTAssertEqual(pool.forward(x).array, [5, 7])
        let dx = pool.backward(Tensor(shape: [1, 1, 1, 2], values: [10, 20])).array
        // The tie of three 7s goes to the first in window order: row 0, column 2.
        XCTAssertEqual(dx, [0, 10, 20, 0, 0, 0, 0, 0])
        // Padding never wins, even over negative values.
        let padded = try layer("maxpool2d", ["2"], ["padding": "1"], input: [1, 2, 2])
        XCTAssertEqual(padded.forward(Tensor(shape: [1, 1, 2, 2], values: [-1, -2, -3, -4])).array, [-1, -2, -3, -4])
    }

    /// The vectorised 2x2 pooling (rows of 8 windows, and narrow planes window by window from a
    /// table) against the definition: many ties and some NaNs, odd sizes whose last row or column
    /// no window covers, planes of fewer than 8 windows, and a gradient buffer left dirty by the
    /// pass before (backward writes every value, zeros included).
    func testTwoByTwoMaxPoolMatchesTheDefinition() throws {
        let shapes: [(h: Int, w: Int)] = [(2, 2), (3, 5), (6, 6), (10, 10), (28, 28), (34, 17), (4, 40), (5, 33), (9, 3)]
        var random = RandomSource(seed: 11)
        for (h, w) in shapes {
            let c = 3, batch = 7, oh = h / 2, ow = w / 2
            let pool = try layer("maxpool2d", ["2"], input: [c, h, w])
            for pass in 0..<2 {
                let xs: [Float] = (0..<(batch * c * h * w)).map { _ in
                    let r = random.uniform(0, 1)
                    return r < 0.02 ? .nan : Float(Int(r * 4))   // four values: ties everywhere
                }
                let dys: [Float] = (0..<(batch * c * oh * ow)).map { _ in random.uniform(-1, 1) + Float(pass) }
                var y = [Float](repeating: 0, count: dys.count), dx = [Float](repeating: 0, count: xs.count)
                for plane in 0..<(batch * c) { for oy in 0..<oh { for ox in 0..<ow {
                    var best = Float(0), at = -1
                    for i in 0..<2 { for j in 0..<2 {
                        let index = (plane * h + 2 * oy + i) * w + 2 * ox + j, v = xs[index]
                        if at < 0 || v > best || v.isNaN { best = v; at = index }
                    } }
                    let o = (plane * oh + oy) * ow + ox
                    y[o] = best
                    dx[at] += dys[o]
                } } }
                let name = "\(h)x\(w), pass \(pass)"
                let out = pool.forward(Tensor(shape: [batch, c, h, w], values: xs)).array
                XCTAssertEqual(out.map(\.bitPattern), y.map(\.bitPattern), name)
                XCTAssertEqual(pool.backward(Tensor(shape: [batch, c, oh, ow], values: dys)).array, dx, name)
            }
        }
    }

    func testAveragePool() throws {
        let pool = try layer("avgpool2d", ["2"], input: [1, 2, 4])
        let x = Tensor(shape: [1, 1, 2, 4], values: [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(pool.forward(x).array, [3.5, 5.5])
        XCTAssertEqual(pool.backward(Tensor(shape: [1, 1, 1, 2], values: [4, 8])).array, [1, 1, 2, 2, 1, 1, 2, 2])
    }

    /// One channel of values 1, 2, 3, 4 over a batch of two 1x2 images: μ = 2.5, σ² = 1.25
    /// (biased), so x̂ = (x − 2.5)/√(1.25 + eps); the running mean moves 0.1 toward 2.5 and the
    /// running variance 0.1 toward the unbiased 5/3; num_batches_tracked counts.
    /// A layer list computes a batch norm and the ReLU after it in one pass each way; the
    /// outputs, the input gradient and the parameters' gradients are those of the two layers
    /// run one after the other, bit for bit, in training and in evaluation, for batchnorm2d and
    /// batchnorm1d, with sizes that leave a tail past whole vectors and values at exactly zero.
    func testBatchNormThenReLURunAsOneGiveTheSameNumbers() throws {
        var random = RandomSource(seed: 5)
        for (kind, shape) in [("batchnorm2d", [3, 5, 7]), ("batchnorm1d", [13])] {
            for training in [true, false] {
                let batch = 6, count = batch * shape.reduce(1, *)
                let x = Tensor(shape: [batch] + shape, values: (0..<count).map { i in i % 11 == 0 ? 0 : random.uniform(-2, 2) })
                let dy = Tensor(shape: [batch] + shape, values: (0..<count).map { _ in random.uniform(-1, 1) })
                var results: [[[Float]]] = []
                for fused in [false, true] {
                    let norm = try XCTUnwrap(try layer(kind, [String(shape[0])], input: shape) as? BatchNorm)
                    let relu = try layer("relu", [], input: shape)
                    for c in 0..<shape[0] {
                        norm.weight.value.data[c] = Float(c) * 0.3 - 0.4
                        norm.bias.value.data[c] = Float(c % 2) * 0.2 - 0.1
                    }
                    norm.isTraining = training
                    relu.isTraining = training
                    for p in norm.parameters { p.grad.fill(0) }
                    let list = LayerList([norm, relu], inputShape: shape)
                    let y = fused ? list.forward(x) : relu.forward(norm.forward(x))
                    XCTAssertEqual(norm.rectified, fused)
                    let outputs = y.array
                    let dx = fused ? list.backward(dy) : norm.backward(relu.backward(dy))
                    results.append([outputs, dx.array, norm.weight.grad.array, norm.bias.grad.array,
                                    norm.runningMean.array, norm.runningVar.array])
                }
                for (i, what) in ["output", "dx", "dW", "db", "running mean", "running var"].enumerated() {
                    XCTAssertEqual(results[0][i].map(\.bitPattern), results[1][i].map(\.bitPattern), "\(what), \(kind), training \(training)")
                }
                XCTAssertTrue(results[1][0].contains(0) && results[1][0].contains { $0 > 0 }, "some outputs are rectified, some not")
            }
        }
    }

    func testBatchNormByHand() throws {
        let bn = try XCTUnwrap(try layer("batchnorm2d", ["1"], input: [1, 1, 2]) as? BatchNorm)
        bn.weight.value.data[0] = 2
        bn.bias.value.data[0] = 1
        let x = Tensor(shape: [2, 1, 1, 2], values: [1, 2, 3, 4])
        let y = bn.forward(x).array
        let s = Float(1 / (1.25 + 1e-5).squareRoot())
        let expected: [Float] = [-1.5, -0.5, 0.5, 1.5].map { $0 * s * 2 + 1 }
        for (a, e) in zip(y, expected) {
            XCTAssertEqual(a, e, accuracy: 1e-6)
        }
        XCTAssertEqual(bn.runningMean.array[0], 0.25, accuracy: 1e-7)
        XCTAssertEqual(bn.runningVar.array[0], 0.9 + 0.1 * 5 / 3, accuracy: 1e-6)
        XCTAssertEqual(bn.batchesTracked, 1)
        // Backward: with dy = x̂ the gradient through the statistics cancels part of it.
        for p in bn.parameters { p.grad.fill(0) }
        let dy: [Float] = [1, 0, 0, 0]
        let dx = bn.backward(Tensor(shape: [2, 1, 1, 2], values: dy)).array
        // dx = w·s/n·(n·dy − Σdy − x̂·Σ(dy·x̂)), x̂ = [−1.5, −0.5, 0.5, 1.5]·s
        let xh: [Float] = [-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s]
        for i in 0..<4 {
            let e = 2 * s / 4 * (4 * dy[i] - 1 - xh[i] * xh[0])
            XCTAssertEqual(dx[i], e, accuracy: 1e-5, "dx[\(i)]")
        }
        XCTAssertEqual(bn.bias.grad.array, [1])
        XCTAssertEqual(bn.weight.grad.array[0], xh[0], accuracy: 1e-6)
        // Evaluation uses the running statistics and changes nothing.
        bn.isTraining = false
        let e = bn.forward(Tensor(shape: [1, 1, 1, 2], values: [0.25, 1.25])).array
        let r = Float(1 / (Double(bn.runningVar.array[0]) + 1e-5).squareRoot())
        XCTAssertEqual(e[0], 1, accuracy: 1e-6)
        XCTAssertEqual(e[1], 2 * r + 1, accuracy: 1e-5)
        XCTAssertEqual(bn.batchesTracked, 1)
    }

    func testShapeErrorsNameBothNumbers() throws {
        func error(_ specs: [Spec], input: [Int]?) -> String {
            do {
                _ = try Sequential.build(specs, inputShape: input, random: RandomGenerator(seed: 0))
                return "built"
            } catch let e as LayerBuildError { return e.shellText } catch { return "\(error)" }
        }
        let lenetTop = [Spec("conv2d", args: ["1", "6", "5"], options: [("padding", "2")]), Spec("maxpool2d", args: ["2"]),
                        Spec("conv2d", args: ["6", "16", "5"]), Spec("maxpool2d", args: ["2"]), Spec("flatten")]
        let wrong = error(lenetTop + [Spec("linear", args: ["500", "120"])], input: [1, 28, 28])
        XCTAssertTrue(wrong.contains("500") && wrong.contains("400"), wrong)
        let channels = error([Spec("conv2d", args: ["3", "6", "5"])], input: [1, 28, 28])
        XCTAssertTrue(channels.contains("3 input channels") && channels.contains("gives 1"), channels)
        let flat = error([Spec("conv2d", args: ["1", "6", "5"])], input: [784])
        XCTAssertTrue(flat.contains("[784]"), flat)
        let unknown = error([Spec("conv2d", args: ["1", "6", "5"])], input: nil)
        XCTAssertTrue(unknown.contains("load image data first"), unknown)
        // A Swift program is told what is wrong; only the shell tells what to type.
        XCTAssertThrowsError(try Sequential.build([Spec("conv2d", args: ["1", "6", "5"])], inputShape: nil, random: RandomGenerator(seed: 0))) {
            XCTAssertEqual("\($0)", "conv2d 1 6 5: the input's shape is unknown")
        }
        let big = error([Spec("conv2d", args: ["1", "6", "30"])], input: [1, 28, 28])
        XCTAssertTrue(big.contains("does not fit"), big)
        let bn = error(lenetTop + [Spec("batchnorm1d", args: ["300"])], input: [1, 28, 28])
        XCTAssertTrue(bn.contains("300") && bn.contains("400"), bn)
        let pad = error([Spec("maxpool2d", args: ["2"], options: [("padding", "2")])], input: [1, 28, 28])
        XCTAssertTrue(pad.contains("at most half"), pad)
        XCTAssertEqual(error(lenetTop + [Spec("linear", args: ["400", "120"])], input: [1, 28, 28]), "built")
    }

    /// LeNet-5 has PyTorch's 61,706 parameters and its output shapes.
    func testLeNetShapesAndParameters() throws {
        let specs = [Spec("conv2d", args: ["1", "6", "5"], options: [("padding", "2")]), Spec("relu"), Spec("maxpool2d", args: ["2"]),
                     Spec("conv2d", args: ["6", "16", "5"]), Spec("relu"), Spec("maxpool2d", args: ["2"]), Spec("flatten"),
                     Spec("linear", args: ["400", "120"]), Spec("relu"), Spec("linear", args: ["120", "84"]), Spec("relu"),
                     Spec("linear", args: ["84", "10"])]
        let model = try Sequential.build(specs, inputShape: [1, 28, 28], random: RandomGenerator(seed: 0))
        XCTAssertEqual(model.parameterCount, 61_706)
        XCTAssertEqual(model.layers.map(\.outputShape)[0..<7].map { $0 }, [[6, 28, 28], [6, 28, 28], [6, 14, 14], [16, 10, 10], [16, 10, 10], [16, 5, 5], [400]])
        XCTAssertEqual(model.namedParameters.map(\.0), ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias", "9.weight", "9.bias", "11.weight", "11.bias"])
        XCTAssertEqual(model.parameters[0].shape, [6, 1, 5, 5])
        let out = model.forward(Tensor(shape: [3, 1, 28, 28]))
        XCTAssertEqual(out.shape, [3, 10])
        XCTAssertEqual(model.specs.map(\.text)[0], "conv2d 1 6 5 padding=2")
    }
}
