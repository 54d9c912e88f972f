import Foundation

/// torch.optim.Adam and AdamW. Adam adds weight_decay·w to the gradient; AdamW instead
/// shrinks w by lr·weight_decay first. Then m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g²,
/// w -= lr/(1-β1ᵗ) · m / (√v/√(1-β2ᵗ) + eps).
public final class Adam: OptimizerBase, Optimizer {
    public let kind: String
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    public let decoupled: Bool

    public init(lr: Float, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8,
                weightDecay: Float = 0, decoupled: Bool = false) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.decoupled = decoupled
        kind = decoupled ? "adamw" : "adam"
        super.init(learningRate: lr, stateNames: ["exp_avg", "exp_avg_sq"])
    }

    public var definition: String {
        "\(kind) " + [setting("lr", baseLearningRate), setting("beta1", beta1), setting("beta2", beta2),
                      setting("eps", eps), setting("weight_decay", weightDecay)].joined(separator: " ")
    }

    public func step() {
        steps += 1
        let t = Double(steps)
        let lr = learningRate, b1 = beta1, b2 = beta2, wd = weightDecay, eps = eps
        let stepSize = Float(Double(lr) / (1 - pow(Double(b1), t)))
        let bc2Sqrt = Float((1 - pow(Double(b2), t)).squareRoot())
        let ms = buffers["exp_avg"]!, vs = buffers["exp_avg_sq"]!
        let decoupled = decoupled
        forEachParameter { w, g, n, index in
            let m = ms[index], v = vs[index]
            for i in 0..<n {
                var grad = g[i]
                if decoupled { w[i] *= 1 - lr * wd } else { grad += wd * w[i] }
                m[i] += (grad - m[i]) * (1 - b1)
                v[i] = b2 * v[i] + (1 - b2) * grad * grad
                let denom = v[i].squareRoot() / bc2Sqrt + eps
                w[i] -= stepSize * m[i] / denom
                g[i] = 0
            }
        }
    }

    static func make(_ o: Options, decoupled: Bool) throws -> Optimizer {
        Adam(lr: try o.float("lr", min: 0), beta1: try o.float("beta1", min: 0, max: 1, maxExclusive: true),
             beta2: try o.float("beta2", min: 0, max: 1, maxExclusive: true), eps: try o.float("eps", min: 0),
             weightDecay: try o.float("weight_decay", min: 0), decoupled: decoupled)
    }
}
