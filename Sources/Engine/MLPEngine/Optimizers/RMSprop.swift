/// torch.optim.RMSprop: g += weight_decay·w; s = α·s + (1-α)·g²; with centered, a = α·a +
/// (1-α)·g and the denominator is √(s - a²) + eps, else √s + eps; with momentum μ,
/// b = μ·b + g/denominator and w -= lr·b, else w -= lr·g/denominator.
public final class RMSprop: OptimizerBase, Optimizer {
    public let kind = "rmsprop"
    public let alpha: Float, eps: Float, weightDecay: Float, momentum: Float
    public let centered: Bool

    public init(lr: Float, alpha: Float = 0.99, eps: Float = 1e-8, weightDecay: Float = 0,
                momentum: Float = 0, centered: Bool = false) {
        self.alpha = alpha
        self.eps = eps
        self.weightDecay = weightDecay
        self.momentum = momentum
        self.centered = centered
        var names = ["square_avg"]
        if momentum != 0 { names.append("momentum_buffer") }
        if centered { names.append("grad_avg") }
        super.init(learningRate: lr, stateNames: names)
    }

    public var definition: String {
        "rmsprop " + [setting("lr", baseLearningRate), setting("alpha", alpha), setting("eps", eps),
                      setting("weight_decay", weightDecay), setting("momentum", momentum),
                      "centered=\(centered)"].joined(separator: " ")
    }

    public func step() {
        let lr = learningRate, a = alpha, eps = eps, wd = weightDecay, mu = momentum
        let sq = buffers["square_avg"]!, mb = buffers["momentum_buffer"], ga = buffers["grad_avg"]
        forEachParameter { w, g, n, index in
            let s = sq[index]
            for i in 0..<n {
                let grad = g[i] + wd * w[i]
                s[i] = a * s[i] + (1 - a) * grad * grad
                var avg: Float
                if let ga {
                    let c = ga[index]
                    c[i] = a * c[i] + (1 - a) * grad
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
                g[i] = 0
            }
        }
        steps += 1
    }

    static func make(_ o: Options) throws -> Optimizer {
        RMSprop(lr: try o.float("lr", min: 0), alpha: try o.float("alpha", min: 0, max: 1),
                eps: try o.float("eps", min: 0), weightDecay: try o.float("weight_decay", min: 0),
                momentum: try o.float("momentum", min: 0), centered: try o.bool("centered"))
    }
}
