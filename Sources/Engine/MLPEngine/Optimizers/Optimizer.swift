/// Updates parameters from their gradients, as torch.optim does: an update rule and nothing
/// else. Gradients are zeroed by whoever runs the step (`Sequential.zeroGradients()`, once per
/// batch on the flat gradient buffer), never by the optimizer.
public protocol Optimizer: AnyObject {
    /// The registry name ("sgd").
    var name: String { get }
    /// The optimizer as data, with its settings: what checkpoints store and the registry
    /// rebuilds it from (its text, `definition`, is "sgd lr=0.005 momentum=0.9").
    var spec: Spec { get }
    /// The rate the next step uses; a schedule sets it each epoch.
    var learningRate: Float { get set }
    /// The rate the optimizer was made with, from which schedules start.
    var baseLearningRate: Float { get }
    /// Steps taken since `attach`.
    var steps: Int { get }

    /// The parameters `attach` bound it to.
    var parameters: [Parameter] { get }
    /// Binds the optimizer to a model's parameters and clears its state.
    func attach(_ parameters: [Parameter])
    /// One update from the accumulated gradients; the gradients are left as they are.
    func step()
    /// The state a checkpoint needs to resume exactly: name → values (momentum buffers, moments).
    var state: [String: [Float]] { get }
    /// Restores `state`, as `state` gave it, after `attach`.
    func restore(state: [String: [Float]], steps: Int) throws
}

/// What every optimizer shares: its parameters, one buffer per parameter for each kind of
/// state it keeps, and the checkpoint plumbing for those buffers.
open class OptimizerBase {
    public var learningRate: Float
    public let baseLearningRate: Float
    public private(set) var parameters: [Parameter] = []
    public var steps = 0
    /// One set of buffers per state name, each buffer sized like its parameter.
    public internal(set) var buffers: [String: [UnsafeMutablePointer<Float>]] = [:]
    private let stateNames: [String]

    /// `stateNames` are the buffers it keeps per parameter, sized like it and zeroed at `attach`.
    public init(learningRate: Float, stateNames: [String]) {
        self.learningRate = learningRate
        baseLearningRate = learningRate
        self.stateNames = stateNames
    }

    deinit { freeBuffers() }

    private func freeBuffers() {
        for list in buffers.values { for b in list { b.deallocate() } }
        buffers = [:]
    }

    public func attach(_ parameters: [Parameter]) {
        freeBuffers()
        self.parameters = parameters
        steps = 0
        for name in stateNames {
            buffers[name] = parameters.map {
                let b = UnsafeMutablePointer<Float>.allocate(capacity: max($0.count, 1))
                b.initialize(repeating: 0, count: max($0.count, 1))
                return b
            }
        }
    }

    public var state: [String: [Float]] {
        var out: [String: [Float]] = [:]
        for (name, list) in buffers {
            for (i, b) in list.enumerated() {
                out["\(name).\(i)"] = Array(UnsafeBufferPointer(start: b, count: parameters[i].count))
            }
        }
        return out
    }

    public func restore(state: [String: [Float]], steps: Int) throws {
        for (name, list) in buffers {
            for (i, b) in list.enumerated() {
                guard let values = state["\(name).\(i)"], values.count == parameters[i].count else {
                    throw EngineError("optimizer state '\(name).\(i)' is missing or has the wrong size")
                }
                values.withUnsafeBufferPointer { b.update(from: $0.baseAddress!, count: values.count) }
            }
        }
        self.steps = steps
    }

    /// Runs `update` on each parameter with its value, gradient, count and index.
    @inline(__always)
    public func forEachParameter(_ update: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int, Int) -> Void) {
        for (i, p) in parameters.enumerated() { update(p.value.data, p.grad.data, p.count, i) }
    }
}

/// Formats a setting for `definition`: "0.005", "0.9".
public func setting(_ name: String, _ v: Float) -> (key: String, value: String) { (name, "\(v)") }

/// A hyperparameter as the user gave it, in the shortest decimal that reads back as the same
/// Double: a file's settings load as they were saved (beta2=0.99999999999 is not 1 in Double,
/// though it is in Float).
public func setting(_ name: String, _ v: Hyper) -> (key: String, value: String) { (name, "\(v.exact)") }

extension OptionSpec {
    /// The option every optimizer takes (AdamW's default differs).
    public static let weightDecay = OptionSpec("weight_decay", "0", "L2 penalty added to the gradient")
}

extension Optimizer {
    /// The optimizer as mlpsh text: its spec's.
    public var definition: String { spec.text }

    /// Binds it to `parameters` unless it is bound to them already (then its state, momentum
    /// and moments, is kept): an optimizer meets its parameters when it is first used, by
    /// the trainer or a checkpoint, not when it is chosen.
    public func bind(_ parameters: [Parameter]) {
        if self.parameters.count != parameters.count || !zip(self.parameters, parameters).allSatisfy({ $0 === $1 }) {
            attach(parameters)
        }
    }
}

/// A hyperparameter as the user gave it (a Double, as PyTorch keeps Python floats) and as the
/// Float kernels use it. Derived values such as 1 − β are computed from `exact` and rounded
/// once, as PyTorch computes `1 - beta` in Python and casts the result.
public struct Hyper: Sendable {
    public let exact: Double
    public var float: Float { Float(exact) }
    /// 1 − value, in Double, rounded once.
    public var complement: Float { Float(1 - exact) }
    public init(_ exact: Double) { self.exact = exact }
}
