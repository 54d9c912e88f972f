import MLPEngine

/// Lion (Chen et al., 2023): c = β1·m + (1 − β1)·g; w −= lr·(sign(c) + weight_decay·w);
/// m = β2·m + (1 − β2)·g. One buffer a parameter; lr is usually 3-10× smaller than Adam's.
final class Lion: OptimizerBase, Optimizer {
    let name = "lion"
    let beta1: Hyper, beta2: Hyper, weightDecay: Hyper

    init(lr: Double, beta1: Double, beta2: Double, weightDecay: Double) {
        self.beta1 = Hyper(beta1)
        self.beta2 = Hyper(beta2)
        self.weightDecay = Hyper(weightDecay)
        super.init(learningRate: Float(lr), stateNames: ["exp_avg"])
    }

    var spec: Spec {
        Spec("lion", options: [setting("lr", baseLearningRate), setting("beta1", beta1), setting("beta2", beta2),
                               setting("weight_decay", weightDecay)])
    }

    func step() {
        let lr = learningRate, b1 = beta1.float, b2 = beta2.float, wd = weightDecay.float
        let oneMinusB1 = beta1.complement, oneMinusB2 = beta2.complement
        let moments = buffers["exp_avg"]!
        forEachParameter { w, g, n, index in
            let m = moments[index]
            for i in 0..<n {
                let c = b1 * m[i] + oneMinusB1 * g[i]
                let sign: Float = c > 0 ? 1 : (c < 0 ? -1 : 0)
                w[i] -= lr * (sign + wd * w[i])
                m[i] = b2 * m[i] + oneMinusB2 * g[i]
            }
        }
        steps += 1
    }

    static func make(_ a: Arguments) throws -> Optimizer {
        let o = a.options
        return Lion(lr: try o.double("lr", min: 0), beta1: try o.double("beta1", min: 0, max: 1, maxExclusive: true),
             beta2: try o.double("beta2", min: 0, max: 1, maxExclusive: true), weightDecay: try o.double("weight_decay", min: 0))
    }
}
