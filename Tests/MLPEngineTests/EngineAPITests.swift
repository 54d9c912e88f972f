import XCTest
@testable import MLPEngine

/// The engine on its own: shapes, flat buffers, layer buffers through checkpoints, and the
/// training loop's hooks.
final class EngineAPITests: XCTestCase {
    /// A layer with state that is saved but not trained: a running mean (F32, shape [width])
    /// updated in training, and a counter (I64, shape []), as batch norm keeps them.
    final class Counting: Layer {
        let name = "counting"
        let width: Int
        let mean: Tensor
        let runningMean: Buffer
        let counter: Buffer
        var isTraining = true
        var needsInputGradient = true

        init(shape: [Int]) {
            width = shape.reduce(1, *)
            mean = Tensor(shape: [width])
            runningMean = Buffer(name: "running_mean", shape: [width], floats: mean)
            counter = Buffer(name: "num_batches_tracked", shape: [], integers: [0])
        }
        var spec: Spec { Spec(name) }
        var outputShape: [Int] { [width] }
        var parameters: [Parameter] { [] }
        var buffers: [Buffer] { [runningMean, counter] }
        func forward(_ x: Tensor) -> Tensor {
            if isTraining {
                for j in 0..<width { mean.data[j] = 0.9 * mean.data[j] + 0.1 * x.data[j] }
                if case .i64(let n) = counter.values { counter.values = .i64([n[0] + 1]) }
            }
            return x
        }
        func backward(_ gy: Tensor) -> Tensor { gy }
    }

    private func registries() throws -> Registries {
        let r = Registries()
        try r.registerBuiltins()
        try r.layers.register(.init(name: "counting", summary: "test layer with buffers", make: { Counting(shape: $0.inputShape ?? []) }))
        return r
    }

    /// Large activations are split across cores; the result is the same value for value.
    func testElementwiseLayersOnLargeInputsSplitAcrossCoresAlike() {
        var random = RandomSource(seed: 3)
        let n = 5 * 40_001
        let x = Tensor(shape: [n / 5, 5], values: (0..<n).map { _ in random.uniform(-1, 1) })
        let dy = Tensor(shape: [n / 5, 5], values: (0..<n).map { _ in random.uniform(-1, 1) })
        for layer in [ReLU(shape: [5]), LeakyReLU(shape: [5], slope: 0.1), Tanh(shape: [5])] as [ElementwiseLayer] {
            let y = layer.forward(x).array, dx = layer.backward(dy).array
            var yy = [Float](repeating: 0, count: n), dd = [Float](repeating: 0, count: n)
            layer.apply(x.data, &yy, n)
            yy.withUnsafeBufferPointer { layer.derivative(x.data, $0.baseAddress!, dy.data, &dd, n) }
            XCTAssertEqual(y, yy, layer.name)
            XCTAssertEqual(dx, dd, layer.name)
        }
    }

    func testTensorShapesAreBatchFirst() {
        let t = Tensor(shape: [5, 1, 28, 28])
        XCTAssertEqual(t.rows, 5)
        XCTAssertEqual(t.cols, 784)
        XCTAssertEqual(t.count(from: 2), 784)
        XCTAssertEqual(t.sampleShape, [1, 28, 28])
        let p = Parameter(name: "weight", shape: [6, 1, 5, 5])
        XCTAssertEqual(p.fanIn, 25)
        XCTAssertEqual(p.fanOut, 150)
        XCTAssertEqual(Tensor(shape: []).count, 1)
    }

    func testParametersAreViewsOfOneFlatBufferAndZeroingIsSeparate() throws {
        let random = RandomGenerator(seed: 0)
        let model = try Sequential.build([Spec("linear", args: ["4", "3"]), Spec("relu"), Spec("linear", args: ["2"])],
                                         inputShape: [4], random: random)
        XCTAssertEqual(model.parameterStorage.count, 4 * 3 + 3 + 3 * 2 + 2)
        for (p, offset) in zip(model.parameters, model.offsets) {
            XCTAssertEqual(p.value.data, model.parameterStorage.base + offset)
            XCTAssertEqual(p.grad.data, model.gradientStorage.base + offset)
        }
        model.gradientStorage.fill(7)
        model.zeroGradients()
        // Lazily zero: what a layer reads, and the flat buffer once settled, are zeros.
        XCTAssertEqual(model.parameters[0].grad.array, [Float](repeating: 0, count: 12))
        model.settleGradients()
        XCTAssertEqual(Array(model.gradientStorage.buffer), [Float](repeating: 0, count: model.gradientStorage.count))
    }

    func testBuffersAreSavedAndLoadedAsF32AndI64() throws {
        let r = try registries()
        let random = RandomGenerator(seed: 1)
        let model = try Sequential.build([Spec("linear", args: ["4", "3"]), Spec("counting")], inputShape: [4], registries: r, random: random)
        let x = Tensor(shape: [2, 4], values: [1, 2, 3, 4, 5, 6, 7, 8])
        _ = model.forward(x)
        _ = model.forward(x)
        let file = try Checkpoint.file(model: model, history: [], loss: nil, optimizer: nil, schedule: .none,
                                       random: random, training: false, version: "test")
        XCTAssertEqual(file.entry("1.running_mean")?.dtype, "F32")
        XCTAssertEqual(file.entry("1.running_mean")?.shape, [3])
        XCTAssertEqual(file.entry("1.num_batches_tracked")?.dtype, "I64")
        XCTAssertEqual(file.entry("1.num_batches_tracked")?.shape, [])
        XCTAssertEqual(file.entry("1.num_batches_tracked")?.int64s, [2])
        let bytes = try file.serialized()
        let back = try SafeTensors(parsing: bytes, name: "mem")

        // Into an empty session: the model is rebuilt from mlpsh.layers with its buffers.
        let restored = try Checkpoint.read(back, name: "mem", into: nil, dataShape: nil, registries: r, random: RandomGenerator(seed: 9))
        restored.commit()
        let layer = try XCTUnwrap(restored.model.layers[1] as? Counting)
        XCTAssertEqual(layer.mean.array, (model.layers[1] as! Counting).mean.array)
        guard case .i64(let n) = layer.counter.values else { return XCTFail("counter is not I64") }
        XCTAssertEqual(n, [2])
        XCTAssertEqual(Array(restored.model.parameterStorage.buffer), Array(model.parameterStorage.buffer))

        // A buffer of the wrong dtype is refused, naming it.
        var wrong = back
        let i = try XCTUnwrap(wrong.entries.firstIndex { $0.name == "1.num_batches_tracked" })
        wrong.entries[i] = SafeTensors.Entry(name: "1.num_batches_tracked", shape: [], floats: [2])
        XCTAssertThrowsError(try Checkpoint.read(wrong, name: "mem", into: nil, dataShape: nil, registries: r, random: random)) {
            XCTAssertTrue("\($0)".contains("'1.num_batches_tracked' is F32, expected I64"), "\($0)")
        }
    }

    func testTheLoopCallsItsHooksInOrder() throws {
        let random = RandomGenerator(seed: 2)
        let data = try SyntheticData.make(DatasetArguments(options: try Options(["n": "40", "classes": "2", "features": "3"],
                                          specs: Registries.shared.datasets.lookup("synthetic").options, owner: "synthetic"), random: random))
        let model = try Sequential.build([Spec("linear", args: ["3", "2"])], inputShape: data.sampleShape, random: random)
        let trainer = Trainer(model: model, loss: CrossEntropy(), optimizer: SGD(lr: 0.1), random: random)
        var events: [String] = []
        trainer.hooks.gradientsReady = { m in
            // The gradients are complete (the flat buffer is settled) and the step has not run.
            XCTAssertTrue(m.gradientStorage.buffer.contains { $0 != 0 })
            events.append("g")
        }
        trainer.hooks.batchEnded = { events.append("b\($0.batch)") }
        trainer.hooks.epochEnded = { events.append("e\($0.epoch)") }
        XCTAssertEqual(try trainer.fit(data, epochs: 2, batch: 16, shuffle: true), .finished)
        XCTAssertEqual(events, ["g", "b1", "g", "b2", "g", "b3", "e0", "g", "b1", "g", "b2", "g", "b3", "e1"])
        XCTAssertEqual(trainer.history.map(\.epoch), [0, 1])

        // A stop after the second batch: interrupted, the epoch not in the history.
        var batches = 0
        trainer.hooks.shouldStop = { batches += 1; return batches == 2 }
        XCTAssertEqual(try trainer.fit(data, epochs: 1, batch: 16, shuffle: false), .interrupted(epoch: 2, batches: 2, of: 3))
        XCTAssertEqual(trainer.history.count, 2)
    }

    /// The common case in one line each: save a model, and load it back rebuilt with its weights.
    func testSaveAndLoadInOneLine() throws {
        let random = RandomGenerator(seed: 5)
        let model = Sequential(layers: [Linear(inputWidth: 4, outputWidth: 3, random: random), ReLU(shape: [3]),
                                        Linear(inputWidth: 3, outputWidth: 2, random: random)], inputShape: [4])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("api-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Checkpoint.save(model, to: path)
        let back = try Checkpoint.load(path)
        XCTAssertEqual(back.definition, model.definition)
        XCTAssertEqual(back.inputShape, [4])
        XCTAssertEqual(Array(back.parameterStorage.buffer), Array(model.parameterStorage.buffer))
    }

    /// A program may build models under limits of its own: the weights a layer would take are
    /// checked against what the layers before it left, before they are allocated.
    func testModelLimitsAreCheckedAsTheModelIsBuilt() throws {
        let random = RandomGenerator(seed: 0)
        let limits = ModelLimits(parameters: 1_000, sampleFloats: 100, bufferFloats: 400, batchFloats: 600)
        let specs = try ["linear 4 100", "linear 100 8"].map { try Spec(parsing: $0, what: "layer") }
        XCTAssertThrowsError(try Sequential.build(specs, inputShape: [4], random: random, limits: limits)) {
            XCTAssertEqual(($0 as? LayerBuildError)?.index, 1)
            XCTAssertEqual("\($0)", "a 100x8 layer is too large: the model has 500 weights left of its limit")
        }
        let wide = try ["linear 4 60", "relu"].map { try Spec(parsing: $0, what: "layer") }
        XCTAssertThrowsError(try Sequential.build(wide, inputShape: [4], random: random, limits: limits)) {
            XCTAssertTrue("\($0)".contains("give 120 values a sample together"), "\($0)")
        }
        let model = try Sequential.build(try ["linear 4 20", "relu"].map { try Spec(parsing: $0, what: "layer") },
                                         inputShape: [4], random: random, limits: limits)
        XCTAssertEqual(model.limits, limits)
        XCTAssertNoThrow(try model.checkBatch(13))
        XCTAssertThrowsError(try model.checkBatch(14)) { XCTAssertTrue("\($0)".contains("needs 616 floats of activations"), "\($0)") }
        var narrow = limits
        narrow.bufferFloats = 200
        model.limits = narrow
        XCTAssertThrowsError(try model.checkBatch(11)) { XCTAssertTrue("\($0)".contains("more than the 200 a buffer may hold"), "\($0)") }
        // The standard limits are the default.
        XCTAssertEqual(try Sequential.build(specs, inputShape: [4], random: random).limits, .standard)
    }
}
