/// torch.optim.SGD: g = grad + weight_decay·w; with momentum μ, b = μ·b + (1-dampening)·g
/// (b = g at the first step) and g = nesterov ? g + μ·b : b; then w -= lr·g.
public final class SGD: OptimizerBase, Optimizer {
    public let name = "sgd"
    public let momentum: Hyper, dampening: Hyper, weightDecay: Hyper
    public let nesterov: Bool

    public init(lr: Double, momentum: Double = 0, dampening: Double = 0, weightDecay: Double = 0,
                nesterov: Bool = false) {
        self.momentum = Hyper(momentum)
        self.dampening = Hyper(dampening)
        self.weightDecay = Hyper(weightDecay)
        self.nesterov = nesterov
        super.init(learningRate: Float(lr), stateNames: momentum != 0 ? ["momentum_buffer"] : [])
    }

    public var spec: Spec {
        var options = [setting("lr", baseLearningRate)]
        if momentum.exact != 0 { options.append(setting("momentum", momentum)) }
        if dampening.exact != 0 { options.append(setting("dampening", dampening)) }
        if weightDecay.exact != 0 { options.append(setting("weight_decay", weightDecay)) }
        if nesterov { options.append(("nesterov", "true")) }
        return Spec(name, options: options)
    }

    public func step() {
        let lr = learningRate, mu = momentum.float, damp = dampening.complement, wd = weightDecay.float
        let first = steps == 0, nesterov = nesterov
        let bufs = buffers["momentum_buffer"]
        forEachParameter { w, g, n, index in
            if mu == 0 {
                if wd == 0 {
                    Parallel.shared.forEachSlice(of: n) { start, count in Kernels.sgdStep(w + start, g + start, lr: lr, count) }
                } else {
                    Kernels.decayStep(w, g, n, lr: lr, wd: wd)
                }
            } else {
                Kernels.momentumStep(w, g, bufs![index], n, lr: lr, mu: mu, damp: damp, wd: wd, first: first, nesterov: nesterov)
            }
        }
        steps &+= 1
    }

    static func make(_ o: Options) throws -> Optimizer {
        let momentum = try o.double("momentum", min: 0)
        let dampening = try o.double("dampening", min: 0, max: 1)
        let nesterov = try o.bool("nesterov")
        if nesterov && (momentum <= 0 || dampening != 0) {
            throw EngineError("nesterov=true for 'optim sgd' needs momentum > 0 and dampening=0")
        }
        return SGD(lr: try o.double("lr", min: 0), momentum: momentum, dampening: dampening,
                   weightDecay: try o.double("weight_decay", min: 0), nesterov: nesterov)
    }
}

// MARK: - Its registry entry

extension SGD {
    public static let entry = RegistryEntry<OptimizerFactory>(name: "sgd", summary: "stochastic gradient descent (torch.optim.SGD)",
            options: [OptionSpec("lr", "0.001", "learning rate"), OptionSpec("momentum", "0", "momentum factor μ"),
                      OptionSpec("dampening", "0", "dampening for momentum"), .weightDecay,
                      OptionSpec("nesterov", "false", "Nesterov momentum")],
            details: "g = grad + weight_decay·w; with momentum b = μ·b + (1-dampening)·g (b = g at the first step),\ng = nesterov ? g + μ·b : b; w -= lr·g.",
            example: "optim sgd lr=0.005 momentum=0.9", make: { try SGD.make($0.options) })
}
