/// torch.optim.RMSprop: g += weight_decay·w; s = α·s + (1-α)·g²; with centered, a = α·a +
/// (1-α)·g and the denominator is √(s - a²) + eps, else √s + eps; with momentum μ,
/// b = μ·b + g/denominator and w -= lr·b, else w -= lr·g/denominator. 1-α is computed in
/// Double from α as given and rounded once.
public final class RMSprop: OptimizerBase, Optimizer {
    public let name = "rmsprop"
    public let alpha: Hyper, eps: Hyper, weightDecay: Hyper, momentum: Hyper
    public let centered: Bool

    public init(lr: Double, alpha: Double = 0.99, eps: Double = 1e-8, weightDecay: Double = 0,
                momentum: Double = 0, centered: Bool = false) {
        self.alpha = Hyper(alpha)
        self.eps = Hyper(eps)
        self.weightDecay = Hyper(weightDecay)
        self.momentum = Hyper(momentum)
        self.centered = centered
        var names = ["square_avg"]
        if momentum != 0 { names.append("momentum_buffer") }
        if centered { names.append("grad_avg") }
        super.init(learningRate: Float(lr), stateNames: names)
    }

    public var spec: Spec {
        Spec(name, options: [setting("lr", baseLearningRate), setting("alpha", alpha), setting("eps", eps),
                             setting("weight_decay", weightDecay), setting("momentum", momentum), ("centered", "\(centered)")])
    }

    public func step() {
        let lr = learningRate, a = alpha.float, oneMinusA = alpha.complement
        let eps = eps.float, wd = weightDecay.float, mu = momentum.float
        let sq = buffers["square_avg"]!, mb = buffers["momentum_buffer"], ga = buffers["grad_avg"]
        forEachParameter { w, g, n, index in
            let s = sq[index]
            for i in 0..<n {
                let grad = g[i] + wd * w[i]
                s[i] = a * s[i] + oneMinusA * grad * grad
                var avg: Float
                if let ga {
                    let c = ga[index]
                    c[i] = a * c[i] + oneMinusA * grad
                    avg = (s[i] - c[i] * c[i]).squareRoot() + eps
                } else {
                    avg = s[i].squareRoot() + eps
                }
                if let mb {
                    let b = mb[index]
                    b[i] = mu * b[i] + grad / avg
                    w[i] -= lr * b[i]
                } else {
                    w[i] -= lr * grad / avg
                }
            }
        }
        steps &+= 1
    }

    static func make(_ o: Options) throws -> Optimizer {
        RMSprop(lr: try o.double("lr", min: 0), alpha: try o.double("alpha", min: 0, max: 1),
                eps: try o.double("eps", min: 0), weightDecay: try o.double("weight_decay", min: 0),
                momentum: try o.double("momentum", min: 0), centered: try o.bool("centered"))
    }
}

// MARK: - Its registry entry

extension RMSprop {
    public static let entry = RegistryEntry<OptimizerFactory>(name: "rmsprop", summary: "RMSprop (torch.optim.RMSprop)",
            options: [OptionSpec("lr", "0.01", "learning rate"), OptionSpec("alpha", "0.99", "smoothing constant"),
                      OptionSpec("eps", "1e-08", "added to the denominator"), .weightDecay,
                      OptionSpec("momentum", "0", "momentum factor"), OptionSpec("centered", "false", "normalise by the centred variance")],
            example: "optim rmsprop lr=0.001", make: { try RMSprop.make($0.options) })
}
