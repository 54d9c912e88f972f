/// A trainable value and the gradient that backward passes accumulate into it.
public final class Parameter {
    /// The name within its layer: "weight" or "bias".
    public let name: String
    public let value: Tensor
    public let grad: Tensor

    /// The shape a checkpoint gives it, as PyTorch's state_dict does: [rows, cols], or [count]
    /// for a vector (a bias).
    public let shape: [Int]

    /// A matrix parameter, [rows, cols].
    public init(name: String, rows: Int, cols: Int) {
        self.name = name
        value = Tensor(rows: rows, cols: cols)
        grad = Tensor(rows: rows, cols: cols)
        shape = [rows, cols]
    }

    /// A vector parameter of `count` values (a bias, a scale), held as one row.
    public init(name: String, count: Int) {
        self.name = name
        value = Tensor(rows: 1, cols: count)
        grad = Tensor(rows: 1, cols: count)
        shape = [count]
    }

    public var count: Int { value.count }
}

/// One stage of a model, in the manner of torch/nn's modules.
///
/// `forward` computes the output of a batch and keeps what `backward` needs. `backward` takes
/// the gradient of the loss with respect to the output, *adds* the parameter gradients into
/// `parameters[i].grad` and returns the gradient with respect to the input. Tensors a layer
/// returns are its own buffers, valid until its next call.
public protocol Layer: AnyObject {
    /// The registry name ("linear").
    var kind: String { get }
    /// The layer as mlpsh text that rebuilds it ("linear 784 120"), for checkpoints.
    var definition: String { get }
    /// The shape of one sample of the output, given the shape of one sample of the input.
    var outputShape: [Int] { get }
    var parameters: [Parameter] { get }
    /// Dropout and friends behave differently in training; the model sets this.
    var isTraining: Bool { get set }
    /// False for the first layer: backward need not compute the input gradient.
    var needsInputGradient: Bool { get set }

    func forward(_ input: Tensor) -> Tensor
    func backward(_ gradOutput: Tensor) -> Tensor
}

extension Layer {
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }
}

/// What a layer's factory is given: the words after the layer's name, its options, the
/// shape of one input sample (from the layer before, or the data) and the random source.
public struct LayerArguments {
    public let positional: [String]
    public let options: Options
    public let inputShape: [Int]?
    public let random: RandomGenerator

    public init(positional: [String], options: Options, inputShape: [Int]?, random: RandomGenerator) {
        self.positional = positional
        self.options = options
        self.inputShape = inputShape
        self.random = random
    }

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
