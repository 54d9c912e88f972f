/// nn.Dropout: in training, zeroes each value with probability p and scales the rest by
/// 1/(1-p); in evaluation, passes values through.
public final class Dropout: Layer {
    public let name = "dropout"
    public let p: Float
    private let shape: [Int]
    private let random: RandomGenerator
    public var isTraining = true
    public var needsInputGradient = true
    private let output = Tensor()
    private let mask = Tensor()
    private let gradInput = Tensor()

    public init(shape: [Int], p: Float, random: RandomGenerator) {
        self.shape = shape
        self.p = p
        self.random = random
    }

    public var spec: Spec { Spec(name, options: [("p", "\(p)")]) }
    public var outputShape: [Int] { shape }
    public var parameters: [Parameter] { [] }

    public func forward(_ x: Tensor) -> Tensor {
        guard isTraining, p > 0 else { return x }
        output.reshape(x.shape)
        mask.reshape(x.shape)
        let scale = 1 / (1 - p)
        for i in 0..<x.count {
            let keep: Float = random.source.uniform() >= p ? scale : 0
            mask.data[i] = keep
            output.data[i] = x.data[i] * keep
        }
        return output
    }

    public func backward(_ gy: Tensor) -> Tensor {
        guard isTraining, p > 0 else { return gy }
        gradInput.reshape(gy.shape)
        for i in 0..<gy.count { gradInput.data[i] = gy.data[i] * mask.data[i] }
        return gradInput
    }

    static func make(_ a: LayerArguments) throws -> Layer {
        try a.expectPositional(atMost: 1, usage: "dropout [P] [p=P]")
        var options = a.options
        if let word = a.positional.first {
            options = try Options(["p": word], specs: a.options.specs, owner: "dropout")
        }
        let p = try options.float("p", min: 0, max: 1, maxExclusive: true)
        return Dropout(shape: a.inputShape ?? [], p: p, random: a.random)
    }
}

// MARK: - Its registry entry

extension Dropout {
    public static let entry = RegistryEntry<LayerFactory>(name: "dropout", summary: "zeroes values with probability p in training, scales the rest by 1/(1-p)",
            usage: "[P]", options: [OptionSpec("p", "0.5", "the probability of zeroing, in [0, 1)")],
            example: "dropout p=0.2", make: Dropout.make)
}
