import XCTest
@testable import MLPEngine

/// Finite-difference gradient checks (GradientCheck, in the manner of Caffe's
/// GradientChecker) of every layer and loss in the registry, so a layer added later (built in,
/// or registered by a plugin) is checked without a new test.
final class GradientCheckTests: XCTestCase {
    private func assertPassed(_ report: GradientCheck.Report, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertGreaterThan(report.comparisons, 0, report.label, file: file, line: line)
        for failure in report.failures { XCTFail("\(report.label): \(failure)", file: file, line: line) }
    }

    func testEveryRegisteredLayerPassesTheGradientCheck() throws {
        let names = Registries.shared.layers.names
        XCTAssertFalse(names.isEmpty)
        var checked = 0
        for name in names {
            for report in try GradientCheck.layer(named: name) {
                assertPassed(report)
                checked += 1
            }
        }
        // 9 built-in layers, linear twice, each in both modes.
        XCTAssertGreaterThanOrEqual(checked, 20)
    }

    /// The check can fail: a layer whose backward is wrong is caught.
    /// hardtanh (clamp to [-1, 1]) has kinks at ±1: a correct one passes on vectors and images,
    /// and one whose derivative is wrong between the kinks still fails.
    func testHardtanhsKinksAreKeptAwayFromAndAWrongOneStillFails() {
        final class HardTanh: ElementwiseLayer {
            let slope: Float
            init(shape: [Int], slope: Float) {
                self.slope = slope
                super.init(kind: "hardtanh", shape: shape)
            }
            override func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
                for i in 0..<n { y[i] = min(1, max(-1, x[i])) }
            }
            override func derivative(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                                     _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
                for i in 0..<n { dx[i] = x[i] > -1 && x[i] < 1 ? dy[i] * slope : 0 }
            }
        }
        for shape in [[5], [2, 4, 4]] {
            for training in [false, true] {
                let good = GradientCheck.check(HardTanh(shape: shape, slope: 1), inputShape: shape, label: "hardtanh", training: training)
                XCTAssertTrue(good.passed, "\(shape): \(good.failures)")
                let bad = GradientCheck.check(HardTanh(shape: shape, slope: 0.9), inputShape: shape, label: "hardtanh", training: training)
                XCTAssertFalse(bad.passed, "\(shape)")
            }
        }
    }

    func testAWrongBackwardFailsTheCheck() {
        final class Wrong: ElementwiseLayer {
            override func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
                for i in 0..<n { y[i] = x[i] * x[i] }
            }
            override func derivative(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                                     _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
                for i in 0..<n { dx[i] = dy[i] * x[i] }   // should be 2x
            }
        }
        let report = GradientCheck.check(Wrong(kind: "wrong", shape: [5]), label: "wrong", training: false)
        XCTAssertFalse(report.passed)
        XCTAssertTrue(report.failures.first?.contains("d/dx") == true, "\(report.failures)")
    }

    func testDropoutDropsSomeAndBackwardUsesItsMask() throws {
        let entry = try Registries.shared.layers.lookup("dropout")
        let layer = try entry.make(LayerArguments(positional: [], options: try Options([:], specs: entry.options, owner: "dropout"),
                                                  inputShape: [5], random: RandomGenerator(seed: 7)))
        layer.isTraining = true
        var random = RandomSource(seed: 1)
        let out = layer.forward(Tensor(rows: 3, cols: 5, values: GradientCheck.input(&random))).array
        let zeroed = out.filter { $0 == 0 }.count
        XCTAssert(zeroed > 0 && zeroed < 15, "p = 0.5 on 15 values: \(zeroed) dropped")
        assertPassed(GradientCheck.check(layer, label: "dropout", training: true))
    }

    private func randomInput(_ random: inout RandomSource) -> [Float] { GradientCheck.input(&random) }

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
            assertPassed(try GradientCheck.loss(named: name, options: values, targets: targets))
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
