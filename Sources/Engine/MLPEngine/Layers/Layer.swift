/// One stage of a model, in the manner of torch/nn's modules.
///
/// `forward` computes the output of a batch and keeps what `backward` needs. `backward` takes
/// the gradient of the loss with respect to the output, *adds* the parameter gradients into
/// `parameters[i].grad` and returns the gradient with respect to the input. Tensors a layer
/// returns are its own buffers, valid until its next call. A batch's first axis is the sample;
/// the rest is `outputShape` (or the input's sample shape).
public protocol Layer: AnyObject {
    /// The registry name ("linear").
    var name: String { get }
    /// The layer as data that rebuilds it through the registry: name, words and options
    /// (["linear", "784", "120"]). Checkpoints store it.
    var spec: Spec { get }
    /// The shape of one sample of the output, given the shape of one sample of the input.
    var outputShape: [Int] { get }
    var parameters: [Parameter] { get }
    /// State saved in checkpoints but not trained (running statistics). None by default.
    var buffers: [Buffer] { get }
    /// Dropout, batch norm and friends behave differently in training; the model sets this.
    var isTraining: Bool { get set }
    /// False for the first layer: backward need not compute the input gradient.
    var needsInputGradient: Bool { get set }

    func forward(_ input: Tensor) -> Tensor
    func backward(_ gradOutput: Tensor) -> Tensor

    /// The layers a block holds, each with the name its weights take after the block's
    /// ("body.0", "branches.1.2"); none for a layer.
    var sublayers: [(name: String, layer: Layer)] { get }
    /// Parameters named as a state_dict names them within this layer ("weight",
    /// "body.0.weight"), in the order of `parameters`.
    var namedParameters: [(String, Parameter)] { get }
    var namedBuffers: [(String, Buffer)] { get }
    /// The layer as mlpsh text, one line a layer (a block's nested lines indented).
    var definition: String { get }
    /// The shape of one input sample when the layer's own words state it (`linear 784 120`
    /// takes [784]), so that a model built before any data knows its input; nil otherwise.
    var statedInputShape: [Int]? { get }
    /// How `summary` names it: "conv2d(1, 6, 5, padding=2)", "linear(784 -> 120)".
    var title: String { get }
}

extension Layer {
    public var buffers: [Buffer] { [] }
    public var sublayers: [(name: String, layer: Layer)] { [] }
    public var namedParameters: [(String, Parameter)] { parameters.map { ($0.name, $0) } }
    public var namedBuffers: [(String, Buffer)] { buffers.map { ($0.name, $0) } }
    /// This layer and every layer nested in it, depth first.
    public var allLayers: [Layer] { [self] + sublayers.flatMap(\.layer.allLayers) }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }
    /// The layer as mlpsh text ("linear 784 120").
    public var definition: String { spec.text }
    public var statedInputShape: [Int]? { nil }
    /// Its name, then its words and options in parentheses.
    public var title: String {
        let words = spec.text.split(separator: " ")
        return words.count > 1 ? "\(words[0])(\(words.dropFirst().joined(separator: ", ")))" : spec.text
    }
}

/// What a layer's factory is given: see `Arguments`, the one argument type of every factory.
public typealias LayerArguments = Arguments

extension Arguments {
    /// The input as a flat width; layers that need one call this.
    public func inputWidth(for layer: String) throws -> Int {
        guard let shape = inputShape else {
            throw EngineError("\(layer): the input width is unknown; state it (\(layer) IN ...) or load data first")
        }
        return shape.reduce(1, *)
    }

    /// Checks that there are no more than `max` positional words.
    public func expectPositional(atMost max: Int, usage: String) throws {
        if positional.count > max {
            throw EngineError("too many arguments: expected '\(usage)'")
        }
    }
}
