import MLPEngine

// MARK: - A model description: shapes, overflow and budgets

/// The sample shapes the first byte picks from: none (the first layer must say), flat, an
/// MNIST image, small colour and odd-sized images.
private let inputShapes: [[Int]?] = [nil, [784], [1, 28, 28], [3, 8, 8], [2, 5, 7], [1, 1, 1], [16], [4, 3, 3]]

/// Limits scaled down from the standard ones (the same checks, at sizes libFuzzer's memory
/// limit allows): 16 MB of weights, 4 MB a buffer, 32 MB of a batch's activations.
private let fuzzLimits = ModelLimits(parameters: 1 << 22, sampleFloats: 1 << 20, bufferFloats: 1 << 20, batchFloats: 1 << 23)

/// The first byte picks the input shape and (high bits) the batch rows; the rest is a model
/// block, one layer a line, numbers of any size. Building must refuse what does not fit the
/// limits before allocating it; what builds must describe itself (its specs rebuild the same
/// model) and run a batch forward and backward with outputs of the shape it states.
func fuzzModel(_ bytes: [UInt8]) {
    guard let first = bytes.first else { return }
    let shape = inputShapes[Int(first & 7)]
    let rows = Int(first >> 3) % 4 + 1
    let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
    var specs: [Spec] = []
    for line in text.split(separator: "\n") {
        guard let spec = try? Spec(parsing: String(line), what: "layer") else { return }
        specs.append(spec)
    }
    guard specs.count <= 64,
          let model = try? Sequential.build(specs, inputShape: shape, random: RandomGenerator(seed: 0), limits: fuzzLimits)
    else { return }
    precondition(model.parameterCount <= fuzzLimits.parameters, "the model has more weights than its limit")
    let again: Sequential
    do {
        again = try Sequential.build(model.specs, inputShape: shape ?? model.inputShape, random: RandomGenerator(seed: 0), limits: fuzzLimits)
    } catch {
        preconditionFailure("a model does not rebuild from its own specs: \(error)")
    }
    precondition(again.specs == model.specs && again.layers.map(\.outputShape) == model.layers.map(\.outputShape),
                 "a model rebuilt from its specs differs")
    guard (try? model.checkBatch(rows)) != nil else { return }
    let x = Tensor(shape: [rows] + model.inputShape)
    for i in 0..<x.count { x.data[i] = Float(i % 7) - 3 }
    model.isTraining = true
    let y = model.forward(x)
    precondition(y.shape == [rows] + (model.layers.last?.outputShape ?? model.inputShape), "forward gave \(y.shape)")
    let g = Tensor(shape: y.shape)
    g.fill(1)
    model.zeroGradients()
    model.backward(g)
    model.settleGradients()
}
