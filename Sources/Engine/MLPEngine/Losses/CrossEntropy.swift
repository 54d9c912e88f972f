import Foundation

/// nn.CrossEntropyLoss on logits: -log softmax of the target class, with PyTorch's class
/// `weight`, `ignore_index` and `label_smoothing`.
///
/// With reduction=mean the weighted sum is divided by the sum of the weights of the targets
/// counted; ignored targets count for nothing, and a batch whose targets are all ignored has
/// loss 0. With label smoothing ε over C classes the loss is
/// (1-ε)·nll + ε/C · Σ_c -w_c log p_c, its second term normalised as PyTorch does: by the
/// weights of the counted targets when weights are given, otherwise by the number of rows counted.
public final class CrossEntropy: Loss {
    public let name = "cross_entropy"
    public let weight: [Float]?
    public let ignoreIndex: Int32
    public let labelSmoothing: Float
    public let reduction: Reduction
    /// log-softmax of one row, reused.
    private var logp: [Float] = []

    public init(weight: [Float]? = nil, ignoreIndex: Int32 = -100, labelSmoothing: Float = 0,
                reduction: Reduction = .mean) {
        self.weight = weight
        self.ignoreIndex = ignoreIndex
        self.labelSmoothing = labelSmoothing
        self.reduction = reduction
    }

    public var spec: Spec {
        var options: [(key: String, value: String)] = []
        if let weight { options.append(("weight", weight.map { "\($0)" }.joined(separator: ","))) }
        if ignoreIndex != -100 { options.append(("ignore_index", "\(ignoreIndex)")) }
        if labelSmoothing != 0 { options.append(("label_smoothing", "\(labelSmoothing)")) }
        if reduction != .mean { options.append(("reduction", reduction.rawValue)) }
        return Spec(name, options: options)
    }

    public func compute(output: UnsafePointer<Float>, rows: Int, cols: Int,
                        targets: UnsafePointer<Int32>, gradient: UnsafeMutablePointer<Float>?) throws -> Float {
        try checkTargets(targets, rows: rows, classes: cols, ignore: ignoreIndex, owner: "cross_entropy")
        if let weight, weight.count != cols {
            throw EngineError("cross_entropy: weight= has \(weight.count) values but the model has \(cols) outputs")
        }
        if logp.count < cols { logp = [Float](repeating: 0, count: cols) }
        let eps = labelSmoothing, classes = Float(cols)
        // Pass 1: per-sample terms and the normaliser.
        var nllSum: Double = 0, smoothSum: Double = 0, weightSum: Double = 0
        var counted = 0
        logp.withUnsafeMutableBufferPointer { buffer in
            let lp = buffer.baseAddress!
            for r in 0..<rows {
                let t = targets[r]
                if t == ignoreIndex { continue }
                counted += 1
                rowSoftmax(output + r * cols, lp, cols, log: true)
                let wt = weight?[Int(t)] ?? 1
                weightSum += Double(wt)
                nllSum += Double(-wt * lp[Int(t)])
                guard eps > 0 else { continue }
                var s: Float = 0
                for c in 0..<cols { s -= (weight?[c] ?? 1) * lp[c] }
                smoothSum += Double(s)
            }
        }
        if counted == 0 {
            // Every target ignored: nothing to learn from, and the loss is 0 (not 0/0).
            if let gradient { gradient.update(repeating: 0, count: rows * cols) }
            return 0
        }
        if weightSum == 0 && reduction == .mean {
            throw EngineError("cross_entropy: the weights of this batch's targets sum to 0")
        }
        // The normalisers of the nll term and of the smoothing term.
        let nllNorm: Double, smoothNorm: Double
        switch reduction {
        case .sum: nllNorm = 1; smoothNorm = 1
        case .mean:
            nllNorm = weightSum
            smoothNorm = weight == nil ? Double(counted) : weightSum
        }
        let loss = Double(1 - eps) * nllSum / nllNorm + Double(eps / classes) * smoothSum / smoothNorm
        // Pass 2: the gradient, d/dx_c = a·(p_c - [c = t])·w_t + b·(Σ_k w_k · p_c - w_c)
        // with a = (1-ε)/nllNorm and b = ε/(C·smoothNorm).
        if let gradient {
            let a = Float(Double(1 - eps) / nllNorm), b = Float(Double(eps / classes) / smoothNorm)
            let wTotal = weight?.reduce(0, +) ?? classes
            for r in 0..<rows {
                let g = gradient + r * cols
                let t = targets[r]
                if t == ignoreIndex { g.update(repeating: 0, count: cols); continue }
                rowSoftmax(output + r * cols, g, cols, log: false)
                let wt = weight?[Int(t)] ?? 1
                for c in 0..<cols {
                    let p = g[c]
                    var d = a * wt * p
                    if b != 0 { d += b * (wTotal * p - (weight?[c] ?? 1)) }
                    g[c] = d
                }
                g[Int(t)] -= a * wt
            }
        }
        return Float(loss)
    }

    static func make(_ o: Options) throws -> Loss {
        let ignore = try o.int("ignore_index", min: Int(Int32.min), max: Int(Int32.max))
        let eps = try o.float("label_smoothing", min: 0, max: 1)
        let weight = try o.floats("weight")
        if let weight, weight.contains(where: { $0 < 0 }) {
            throw EngineError("weight= for 'cross_entropy' must not be negative")
        }
        return CrossEntropy(weight: weight, ignoreIndex: Int32(ignore), labelSmoothing: eps,
                            reduction: try Reduction(o))
    }
}

// MARK: - Its registry entry

extension CrossEntropy {
    public static let entry = RegistryEntry<LossFactory>(name: "cross_entropy", summary: "-log softmax of the target class (nn.CrossEntropyLoss)",
            options: [.classWeights, .ignoreIndex, OptionSpec("label_smoothing", "0", "ε in [0, 1]: mixes the target with the uniform distribution"), reductionSpec],
            details: "The model's output is raw scores (logits). With reduction=mean the weighted sum is divided by the\nsum of the weights of the targets counted. A batch whose targets all equal ignore_index has loss 0.",
            example: "loss cross_entropy label_smoothing=0.1", make: { try CrossEntropy.make($0.options) })
}
