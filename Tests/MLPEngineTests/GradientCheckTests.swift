import XCTest
@testable import MLPEngine

/// Finite-difference gradient checks in the manner of Caffe's GradientChecker(1e-2, 1e-3).
///
/// Every layer and loss in the registry is checked, so a layer added later (built in, or
/// registered by a plugin before the tests run) is checked without a new test. For a layer the
/// scalar checked is L = Σ out ⊙ g for a fixed random upstream gradient g, so dL/dout = g and
/// backward(g) must give dL/dx and (accumulated into the parameters' grads) dL/dθ.
final class GradientCheckTests: XCTestCase {
    /// Central-difference step, in Float.
    private let stepsize: Float = 1e-2
    /// Caffe's rule: |analytic - estimate| <= threshold · max(|analytic|, |estimate|, 1).
    private let threshold: Double = 1e-3

    // MARK: - Layers

    /// The positional words each layer is built with; a layer not named here takes none.
    private func positionalVariants(for name: String) -> [[String]] {
        switch name {
        case "linear": return [["5", "4"], ["4"]]
        default: return [[]]
        }
    }

    func testEveryRegisteredLayerPassesTheGradientCheck() throws {
        let names = Registries.shared.layers.names
        XCTAssertFalse(names.isEmpty)
        var checked = 0
        for name in names {
            let entry = try Registries.shared.layers.lookup(name)
            for positional in positionalVariants(for: name) {
                for training in [false, true] {
                    let random = RandomGenerator(seed: 7)
                    let options = try Options([:], specs: entry.options, owner: name)
                    let layer: Layer
                    do {
                        layer = try entry.make(LayerArguments(positional: positional, options: options,
                                                              inputShape: [5], random: random))
                    } catch {
                        XCTFail("layer '\(name)' \(positional) could not be built for the gradient check: \(error); "
                                + "add its positional words to positionalVariants(for:)")
                        continue
                    }
                    checkLayer(layer, label: "\(name) \(positional.joined(separator: " ")) training=\(training)",
                               training: training)
                    checked += 1
                }
            }
        }
        // 9 built-in layers, linear twice, each in both modes.
        XCTAssertGreaterThanOrEqual(checked, 20)
    }

    /// An input 3x5 whose values are at least 0.2 from 0, so that kinks (relu at 0) are more
    /// than a step away.
    private func randomInput(_ random: inout RandomSource) -> [Float] {
        (0..<15).map { _ in
            let magnitude = 0.2 + 0.8 * random.uniform()
            return random.uniform() < 0.5 ? -magnitude : magnitude
        }
    }

    private func objective(_ out: Tensor, _ g: [Float]) -> Double {
        var s = 0.0
        for i in 0..<out.count { s += Double(out.data[i]) * Double(g[i]) }
        return s
    }

    private func expectClose(_ analytic: Float, _ estimate: Double, _ what: @autoclosure () -> String,
                             file: StaticString = #filePath, line: UInt = #line) {
        let a = Double(analytic)
        let scale = max(abs(a), abs(estimate), 1)
        XCTAssert(abs(a - estimate) <= threshold * scale,
                  "\(what()): analytic \(a) vs finite difference \(estimate)", file: file, line: line)
    }

    private func checkLayer(_ layer: Layer, label: String, training: Bool) {
        var random = RandomSource(seed: 42)
        let xValues = randomInput(&random)
        let g = (0..<layer.outputShape.reduce(1, *) * 3).map { _ in random.uniform(-1, 1) }
        let x = Tensor(rows: 3, cols: 5, values: xValues)
        layer.isTraining = training
        layer.needsInputGradient = true

        // A layer whose output changes between two forward passes on the same input draws
        // random numbers (dropout); in training mode it is checked against its own mask.
        var stochastic = false
        if training {
            let first = layer.forward(x).array
            let second = layer.forward(x).array
            stochastic = first != second
        }

        for p in layer.parameters { p.grad.fill(0) }   // backward accumulates
        let out = layer.forward(x)
        XCTAssertEqual(out.rows, 3, "\(label): output rows")
        XCTAssertEqual(out.cols, layer.outputShape.reduce(1, *), "\(label): output width vs outputShape")
        XCTAssertEqual(g.count, out.count, "\(label)")
        guard g.count == out.count else { return }
        let outValues = out.array
        let dx = layer.backward(Tensor(rows: out.rows, cols: out.cols, values: g)).array
        XCTAssertEqual(dx.count, 15, "\(label): input gradient shape")
        guard dx.count == 15 else { return }

        if stochastic {
            // Backward must use the mask forward drew: out = x ⊙ m, so dx = g ⊙ m = g ⊙ out / x.
            var zeroed = 0
            for i in 0..<15 {
                let m = outValues[i] / xValues[i]
                if m == 0 { zeroed += 1 }
                XCTAssertEqual(dx[i], g[i] * m, accuracy: 1e-5 * max(1, abs(g[i] * m)),
                               "\(label): dx[\(i)] is not dy ⊙ the forward mask")
            }
            if layer.kind == "dropout" {
                // p = 0.5 on 15 values: some are dropped, some kept (the draw is seeded).
                XCTAssert(zeroed > 0 && zeroed < 15, "\(label): \(zeroed) of 15 dropped")
            }
            return
        }

        let analyticParams = layer.parameters.map { $0.grad.array }

        // Input gradient by central differences.
        let probe = Tensor(rows: 3, cols: 5, values: xValues)
        for i in 0..<15 {
            probe.data[i] = xValues[i] + stepsize
            let plus = objective(layer.forward(probe), g)
            probe.data[i] = xValues[i] - stepsize
            let minus = objective(layer.forward(probe), g)
            probe.data[i] = xValues[i]
            let estimate = (plus - minus) / (2 * Double(stepsize))
            expectClose(dx[i], estimate, "\(label): d/dx[\(i / 5),\(i % 5)]")
        }
        // Parameter gradients by central differences.
        for (pi, p) in layer.parameters.enumerated() {
            for i in 0..<p.count {
                let saved = p.value.data[i]
                p.value.data[i] = saved + stepsize
                let plus = objective(layer.forward(x), g)
                p.value.data[i] = saved - stepsize
                let minus = objective(layer.forward(x), g)
                p.value.data[i] = saved
                let estimate = (plus - minus) / (2 * Double(stepsize))
                expectClose(analyticParams[pi][i], estimate, "\(label): d/d\(p.name)[\(i)]")
            }
        }
    }

    /// Backward must add into the parameters' gradients, not overwrite them (a model calls it
    /// once a batch and the optimizer zeroes them).
    func testLinearBackwardAccumulatesParameterGradients() throws {
        let entry = try Registries.shared.layers.lookup("linear")
        let layer = try entry.make(LayerArguments(positional: ["5", "4"], options: try Options([:], specs: entry.options, owner: "linear"),
                                                  inputShape: [5], random: RandomGenerator(seed: 1)))
        var random = RandomSource(seed: 3)
        let x = Tensor(rows: 3, cols: 5, values: randomInput(&random))
        let g = Tensor(rows: 3, cols: 4, values: (0..<12).map { _ in random.uniform(-1, 1) })
        for p in layer.parameters { p.grad.fill(0) }
        _ = layer.forward(x)
        _ = layer.backward(g)
        let once = layer.parameters.map { $0.grad.array }
        _ = layer.forward(x)
        _ = layer.backward(g)
        for (p, first) in zip(layer.parameters, once) {
            for (a, b) in zip(p.grad.array, first) { XCTAssertEqual(a, 2 * b, accuracy: 1e-5, p.name) }
        }
    }

    // MARK: - Losses

    /// (registry name, options) for each loss configuration checked; every registered loss is
    /// also checked with its default options.
    private var lossConfigurations: [(String, [String: String], [Int32])] {
        var configs = Registries.shared.losses.names.map { ($0, [String: String](), [Int32]([0, 3, 1, 2])) }
        configs.append(("cross_entropy", ["weight": "0.5,1,2,1", "ignore_index": "1", "label_smoothing": "0.1"], [0, 1, 3, 2]))
        configs.append(("cross_entropy", ["weight": "0.5,1,2,1"], [0, 1, 3, 3]))
        configs.append(("cross_entropy", ["label_smoothing": "0.1"], [0, 3, 1, 2]))
        configs.append(("cross_entropy", ["ignore_index": "2", "label_smoothing": "0.1"], [2, 3, 1, 2]))
        configs.append(("cross_entropy", ["reduction": "sum", "label_smoothing": "0.2"], [0, 3, 1, 2]))
        configs.append(("nll", ["weight": "0.5,1,2,1", "ignore_index": "1"], [0, 1, 3, 2]))
        configs.append(("mse", ["reduction": "sum"], [0, 3, 1, 2]))
        return configs
    }

    func testEveryRegisteredLossGradientMatchesFiniteDifferences() throws {
        XCTAssertTrue(Registries.shared.losses.names.count >= 3)
        for (name, values, targets) in lossConfigurations {
            let entry = try Registries.shared.losses.lookup(name)
            let loss = try entry.make(try Options(values, specs: entry.options, owner: "loss \(name)"))
            let label = "\(name) \(values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
            var random = RandomSource(seed: 11)
            var output = (0..<16).map { _ in random.uniform(-2, 2) }
            var gradient = [Float](repeating: .nan, count: 16)
            let value = try targets.withUnsafeBufferPointer { t in
                try loss.compute(output: output, rows: 4, cols: 4, targets: t.baseAddress!, gradient: &gradient)
            }
            XCTAssert(value.isFinite, "\(label): loss \(value)")
            for i in 0..<16 {
                let saved = output[i]
                output[i] = saved + stepsize
                let plus = try targets.withUnsafeBufferPointer {
                    try loss.compute(output: output, rows: 4, cols: 4, targets: $0.baseAddress!, gradient: nil)
                }
                output[i] = saved - stepsize
                let minus = try targets.withUnsafeBufferPointer {
                    try loss.compute(output: output, rows: 4, cols: 4, targets: $0.baseAddress!, gradient: nil)
                }
                output[i] = saved
                let estimate = (Double(plus) - Double(minus)) / (2 * Double(stepsize))
                expectClose(gradient[i], estimate, "\(label): d/dout[\(i / 4),\(i % 4)]")
            }
        }
    }

    // MARK: - The registry

    func testRegistryHoldsEveryNameTheSpecPromises() {
        let r = Registries.shared
        for name in ["linear", "relu", "sigmoid", "tanh", "leaky_relu", "flatten", "dropout", "softmax", "log_softmax"] {
            XCTAssertTrue(r.layers.contains(name), "layer \(name)")
        }
        for name in ["cross_entropy", "nll", "mse"] { XCTAssertTrue(r.losses.contains(name), "loss \(name)") }
        for name in ["sgd", "adam", "adamw", "rmsprop"] { XCTAssertTrue(r.optimizers.contains(name), "optimizer \(name)") }
        for name in ["mnist", "fashion_mnist", "synthetic"] { XCTAssertTrue(r.datasets.contains(name), "dataset \(name)") }
        for name in ["step", "cosine"] { XCTAssertTrue(r.schedules.contains(name), "schedule \(name)") }
        for name in ["default", "xavier_uniform", "kaiming_normal", "orthogonal"] {
            XCTAssertTrue(r.initializers.contains(name), "init \(name)")
        }
    }

    func testRegisteringADuplicateNameThrowsAndKeepsTheFirst() throws {
        let before = Registries.shared.layers.names
        let duplicate = RegistryEntry<LayerFactory>(name: "linear", summary: "an impostor",
                                                    make: { _ in throw EngineError("impostor") })
        XCTAssertThrowsError(try Registries.shared.layers.register(duplicate)) { error in
            XCTAssertEqual((error as? EngineError)?.message, "layer 'linear' is already registered")
        }
        XCTAssertEqual(Registries.shared.layers.names, before)
        XCTAssertEqual(try Registries.shared.layers.lookup("linear").summary.contains("fully connected"), true)

        // The same in a private registry, for each kind.
        let r = Registries()
        try r.losses.register(.init(name: "hinge", summary: "a test loss", make: { _ in MSE() }))
        XCTAssertThrowsError(try r.losses.register(.init(name: "hinge", summary: "again", make: { _ in MSE() })))
        XCTAssertEqual(r.losses.names, ["hinge"])
    }

    func testUnknownNameErrorListsKnownNamesAndSuggestsTheNearest() {
        XCTAssertThrowsError(try Registries.shared.layers.lookup("lineer")) { error in
            let message = (error as? EngineError)?.message ?? ""
            XCTAssertTrue(message.contains("unknown layer 'lineer'"), message)
            XCTAssertTrue(message.contains("known: linear, relu, sigmoid, tanh"), message)
            XCTAssertTrue(message.hasSuffix("did you mean 'linear'?"), message)
        }
        XCTAssertThrowsError(try Registries.shared.optimizers.lookup("adamm")) { error in
            XCTAssertTrue("\(error)".contains("did you mean 'adam'?"), "\(error)")
        }
        // Nothing near: no suggestion.
        XCTAssertThrowsError(try Registries.shared.losses.lookup("zzzzzzzz")) { error in
            XCTAssertFalse("\(error)".contains("did you mean"), "\(error)")
        }
    }
}
