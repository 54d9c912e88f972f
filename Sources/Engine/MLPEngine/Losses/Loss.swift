/// A training criterion over a batch of model outputs [rows, cols] and class targets.
public protocol Loss: AnyObject {
    /// The registry name ("cross_entropy").
    var name: String { get }
    /// The loss as data, with its options: what checkpoints store and the registry rebuilds
    /// it from (its text, `definition`, is "cross_entropy label_smoothing=0.1").
    var spec: Spec { get }

    /// Returns the batch loss (PyTorch's reduction). When `gradient` is given, writes
    /// d loss / d output there, shaped like the output.
    func compute(output: UnsafePointer<Float>, rows: Int, cols: Int,
                 targets: UnsafePointer<Int32>, gradient: UnsafeMutablePointer<Float>?) throws -> Float
}

extension Loss {
    /// The loss as mlpsh text: its spec's.
    public var definition: String { spec.text }
}

/// How a loss reduces its per-sample terms, as PyTorch's `reduction=`.
public enum Reduction: String, CaseIterable, Sendable {
    case mean, sum

    public init(_ options: Options) throws {
        let text = options.string("reduction")
        guard let r = Reduction(rawValue: text) else {
            throw EngineError("reduction=\(text) for '\(options.owner)' is not one of: mean, sum")
        }
        self = r
    }
}

/// Checks that every target is a class index below `classes` (or `ignore`).
public func checkTargets(_ targets: UnsafePointer<Int32>, rows: Int, classes: Int, ignore: Int32?, owner: String) throws {
    for i in 0..<rows {
        let t = targets[i]
        if t == ignore { continue }
        if t < 0 || Int(t) >= classes {
            throw EngineError("\(owner): target \(t) is outside the model's \(classes) outputs (0...\(classes - 1))")
        }
    }
}

public let reductionSpec = OptionSpec("reduction", "mean", "mean: the batch mean (weighted as PyTorch); sum: the batch sum")

extension OptionSpec {
    /// Options several losses take.
    public static let classWeights = OptionSpec("weight", "", "class weights w0,w1,... (one per output)")
    public static let ignoreIndex = OptionSpec("ignore_index", "-100", "a target that counts for nothing")
}
