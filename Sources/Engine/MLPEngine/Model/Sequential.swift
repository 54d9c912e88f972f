/// Layers applied in order, as nn.Sequential. Parameters are named as its state_dict names
/// them: "<index>.weight", "<index>.bias", and so are buffers ("<index>.running_mean").
///
/// Every parameter's value lives in one flat buffer and every gradient in another, each
/// parameter a view of its slice (Caffe's learnable_params): zeroing the gradients is one
/// fill, and a data-parallel reduction or an optimizer can see the whole model as one range.
public final class Sequential {
    public let layers: [Layer]
    /// The shape of one input sample the model was built for.
    public let inputShape: [Int]
    /// All parameter values, and all gradients, in the order of `parameters`.
    public let parameterStorage: FlatStorage
    public let gradientStorage: FlatStorage
    /// Where each parameter starts in the flat buffers.
    public let offsets: [Int]
    /// What a batch through it may take (checkBatch); `build` sets the limits it was built with.
    public var limits = ModelLimits.standard

    public init(layers: [Layer], inputShape: [Int]) {
        self.layers = layers
        self.inputShape = inputShape
        // The first layer's input is data: no gradient is needed for it.
        for (i, layer) in layers.enumerated() { layer.needsInputGradient = i > 0 }
        let parameters = layers.flatMap(\.parameters)
        var offsets: [Int] = [], total = 0
        for p in parameters {
            offsets.append(total)
            total += p.count
        }
        self.offsets = offsets
        parameterStorage = FlatStorage(count: total)
        gradientStorage = FlatStorage(count: total)
        for (p, offset) in zip(parameters, offsets) {
            p.value.moveInto(parameterStorage, offset: offset)
            p.grad.moveInto(gradientStorage, offset: offset)
        }
    }

    public var inputWidth: Int { inputShape.reduce(1, *) }
    /// Every layer, blocks' layers included, depth first.
    public var allLayers: [Layer] { layers.flatMap(\.allLayers) }

    /// The widest sample any layer reads or writes: a batch's buffers scale with it.
    public var maxWidth: Int { allLayers.map { $0.outputShape.reduce(1, *) }.reduce(inputWidth, max) }

    /// Floats a sample takes across all the layers' outputs: each layer keeps its own.
    public var activationWidth: Int { allLayers.map { $0.outputShape.reduce(1, *) }.reduce(inputWidth, +) }

    /// Checks that a batch of `rows` fits the activation budget (2^28 floats a buffer).
    public func checkBatch(_ rows: Int) throws {
        let (n, overflow) = rows.multipliedReportingOverflow(by: maxWidth)
        if overflow || n > limits.bufferFloats {
            throw EngineError("a batch of \(rows) through a layer \(maxWidth) wide needs \(n) floats, more than the \(limits.bufferFloats) a buffer may hold: use a smaller batch")
        }
        // Every layer keeps its output (and its input gradient), so the whole model counts.
        let (all, over) = rows.multipliedReportingOverflow(by: activationWidth)
        if over || all > limits.batchFloats {
            throw EngineError("a batch of \(rows) through this model needs \(over ? "more than \(Int.max)" : String(all)) floats of activations (\(activationWidth) a sample over its layers), more than the \(limits.batchFloats) allowed: use a smaller batch or a smaller model")
        }
    }

    public var outputWidth: Int { layers.last?.outputShape.reduce(1, *) ?? inputWidth }

    /// (state_dict name, parameter) for every parameter, in order.
    public var namedParameters: [(String, Parameter)] {
        layers.enumerated().flatMap { i, layer in layer.namedParameters.map { ("\(i).\($0.0)", $0.1) } }
    }

    /// (state_dict name, buffer) for every buffer, in order.
    public var namedBuffers: [(String, Buffer)] {
        layers.enumerated().flatMap { i, layer in layer.namedBuffers.map { ("\(i).\($0.0)", $0.1) } }
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
    public var parameterCount: Int { parameterStorage.count }

    /// The model as data: one spec a layer.
    public var specs: [Spec] { layers.map(\.spec) }
    /// The model as mlpsh text: one layer a line.
    public var definition: String { layers.map(\.definition).joined(separator: "\n") }

    public var isTraining: Bool = true {
        didSet { for l in layers { l.isTraining = isTraining } }
    }

    /// The layers' forward passes in order (a batch norm and the ReLU after it in one: see
    /// LayerList.forward).
    public func forward(_ x: Tensor) -> Tensor { LayerList.forward(layers, x) }

    /// Back-propagates `gradOutput` through every layer, accumulating parameter gradients.
    public func backward(_ gradOutput: Tensor) { _ = LayerList.backward(layers, gradOutput) }

    /// Checks that `data` (loaded as `name`) fits: its sample size and its number of classes.
    public func checkFit(_ data: Dataset, name: String) throws {
        if inputWidth != data.features {
            throw EngineError("the model takes \(inputWidth) inputs but data '\(name)' has \(data.features) features a sample")
        }
        if outputWidth < data.classes {
            throw EngineError("the model gives \(outputWidth) outputs but data '\(name)' has \(data.classes) classes")
        }
    }

    /// Sets every gradient to zero. Lazily: each is zeroed when first touched, or overwritten
    /// by a layer that writes it whole (see `Parameter`); `settleGradients()` makes the flat
    /// buffer exact before anyone reads it as a whole.
    public func zeroGradients() {
        for p in parameters { p.clearGradient() }
    }

    /// Zeroes the gradients that backward did not touch, so `gradientStorage` holds every
    /// gradient exactly (before a reduction or an optimizer step).
    public func settleGradients() {
        for p in parameters { _ = p.grad }
    }
}
