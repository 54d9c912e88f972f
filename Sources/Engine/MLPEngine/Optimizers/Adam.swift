import Foundation

/// torch.optim.Adam and AdamW. Adam adds weight_decay·w to the gradient; AdamW instead
/// shrinks w by lr·weight_decay first. Then m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g²,
/// w -= lr/(1-β1ᵗ) · m / (√v/√(1-β2ᵗ) + eps). 1-β and the bias corrections are computed in
/// Double from the values as given, as PyTorch computes them in Python.
public final class Adam: OptimizerBase, Optimizer {
    public let name: String
    public let beta1: Hyper, beta2: Hyper, eps: Hyper, weightDecay: Hyper
    public let decoupled: Bool

    public init(lr: Double, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
                weightDecay: Double = 0, decoupled: Bool = false) {
        self.beta1 = Hyper(beta1)
        self.beta2 = Hyper(beta2)
        self.eps = Hyper(eps)
        self.weightDecay = Hyper(weightDecay)
        self.decoupled = decoupled
        name = decoupled ? "adamw" : "adam"
        super.init(learningRate: Float(lr), stateNames: ["exp_avg", "exp_avg_sq"])
    }

    public var spec: Spec {
        Spec(name, options: [setting("lr", baseLearningRate), setting("beta1", beta1), setting("beta2", beta2),
                             setting("eps", eps), setting("weight_decay", weightDecay)])
    }

    public func step() {
        steps &+= 1
        let t = Double(steps)
        let lr = learningRate, b2 = beta2.float, wd = weightDecay.float, eps = eps.float
        let oneMinusB1 = beta1.complement, oneMinusB2 = beta2.complement
        let stepSize = Float(Double(lr) / (1 - pow(beta1.exact, t)))
        let bc2Sqrt = Float((1 - pow(beta2.exact, t)).squareRoot())
        let ms = buffers["exp_avg"]!, vs = buffers["exp_avg_sq"]!
        let constants = Kernels.AdamStep(lr: lr, wd: wd, oneMinusB1: oneMinusB1, b2: b2, oneMinusB2: oneMinusB2, bc2Sqrt: bc2Sqrt,
                                         eps: eps, stepSize: stepSize, decoupled: decoupled)
        forEachParameter { w, g, n, index in Kernels.adamStep(w, g, ms[index], vs[index], n, constants) }
    }

    static func make(_ o: Options, decoupled: Bool) throws -> Optimizer {
        Adam(lr: try o.double("lr", min: 0), beta1: try o.double("beta1", min: 0, max: 1, maxExclusive: true),
             beta2: try o.double("beta2", min: 0, max: 1, maxExclusive: true), eps: try o.double("eps", min: 0),
             weightDecay: try o.double("weight_decay", min: 0), decoupled: decoupled)
    }
}

// MARK: - Its registry entry

extension Adam {
    private static let options = [OptionSpec("lr", "0.001", "learning rate"), OptionSpec("beta1", "0.9", "decay of the first moment"),
                                  OptionSpec("beta2", "0.999", "decay of the second moment"), OptionSpec("eps", "1e-08", "added to the denominator")]
    public static let entry = RegistryEntry<OptimizerFactory>(name: "adam", summary: "Adam (torch.optim.Adam)", options: options + [.weightDecay],
            details: "m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²; w -= lr/(1-β1ᵗ) · m / (sqrt(v)/sqrt(1-β2ᵗ) + eps).",
            example: "optim adam lr=0.001", make: { try Adam.make($0.options, decoupled: false) })
    public static let decoupledEntry = RegistryEntry<OptimizerFactory>(name: "adamw", summary: "Adam with decoupled weight decay (torch.optim.AdamW)",
            options: options + [OptionSpec("weight_decay", "0.01", "w *= 1 - lr·weight_decay before each step")],
            example: "optim adamw lr=0.001 weight_decay=0.01", make: { try Adam.make($0.options, decoupled: true) })
}
