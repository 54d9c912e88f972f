/// Layers applied in order, as nn.Sequential. Parameters are named as its state_dict names
/// them: "<index>.weight", "<index>.bias".
public final class Sequential {
    public let layers: [Layer]
    /// The shape of one input sample the model was built for.
    public let inputShape: [Int]

    public init(layers: [Layer], inputShape: [Int]) {
        self.layers = layers
        self.inputShape = inputShape
        // The first layer's input is data: no gradient is needed for it.
        for (i, layer) in layers.enumerated() { layer.needsInputGradient = i > 0 }
    }

    public var inputWidth: Int { inputShape.reduce(1, *) }
    /// The widest row any layer reads or writes: a batch's buffers scale with it.
    public var maxWidth: Int { layers.map { $0.outputShape.reduce(1, *) }.reduce(inputWidth, max) }

    /// Checks that a batch of `rows` fits the activation budget (2^28 floats a buffer).
    public func checkBatch(_ rows: Int) throws {
        let (n, overflow) = rows.multipliedReportingOverflow(by: maxWidth)
        if overflow || n > 1 << 28 {
            throw EngineError("a batch of \(rows) through a layer \(maxWidth) wide needs \(n) floats, more than the \(1 << 28) a buffer may hold: use a smaller batch")
        }
    }
    public var outputWidth: Int { layers.last?.outputShape.reduce(1, *) ?? inputWidth }

    /// (state_dict name, parameter) for every parameter, in order.
    public var namedParameters: [(String, Parameter)] {
        layers.enumerated().flatMap { i, layer in layer.parameters.map { ("\(i).\($0.name)", $0) } }
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// The model as mlpsh text: one layer a line.
    public var definition: String { layers.map(\.definition).joined(separator: "\n") }

    public var isTraining: Bool = true {
        didSet { for l in layers { l.isTraining = isTraining } }
    }

    public func forward(_ x: Tensor) -> Tensor {
        var h = x
        for layer in layers { h = layer.forward(h) }
        return h
    }

    /// Back-propagates `gradOutput` through every layer, accumulating parameter gradients.
    public func backward(_ gradOutput: Tensor) {
        var g = gradOutput
        for layer in layers.reversed() { g = layer.backward(g) }
    }

    public func zeroGradients() {
        for p in parameters { p.grad.fill(0) }
    }
}
