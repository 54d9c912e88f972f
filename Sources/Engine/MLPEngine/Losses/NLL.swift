/// nn.NLLLoss: the output is taken as log-probabilities (put log_softmax last);
/// loss = -Σ w_t·out[t] / Σ w_t over the targets counted, as PyTorch reduces it.
public final class NLL: Loss {
    public let name = "nll"
    public let weight: [Float]?
    public let ignoreIndex: Int32
    public let reduction: Reduction

    public init(weight: [Float]? = nil, ignoreIndex: Int32 = -100, reduction: Reduction = .mean) {
        self.weight = weight
        self.ignoreIndex = ignoreIndex
        self.reduction = reduction
    }

    public var spec: Spec {
        var options: [(key: String, value: String)] = []
        if let weight { options.append(("weight", weight.map { "\($0)" }.joined(separator: ","))) }
        if ignoreIndex != -100 { options.append(("ignore_index", "\(ignoreIndex)")) }
        if reduction != .mean { options.append(("reduction", reduction.rawValue)) }
        return Spec(name, options: options)
    }

    public func compute(output: UnsafePointer<Float>, rows: Int, cols: Int,
                        targets: UnsafePointer<Int32>, gradient: UnsafeMutablePointer<Float>?) throws -> Float {
        try checkTargets(targets, rows: rows, classes: cols, ignore: ignoreIndex, owner: "nll")
        if let weight, weight.count != cols {
            throw EngineError("nll: weight= has \(weight.count) values but the model has \(cols) outputs")
        }
        var sum: Double = 0, wsum: Double = 0
        for r in 0..<rows where targets[r] != ignoreIndex {
            let t = Int(targets[r]), w = weight?[t] ?? 1
            sum -= Double(w * output[r * cols + t])
            wsum += Double(w)
        }
        let norm = reduction == .mean ? wsum : 1
        if let gradient {
            gradient.update(repeating: 0, count: rows * cols)
            if norm != 0 {
                for r in 0..<rows where targets[r] != ignoreIndex {
                    let t = Int(targets[r])
                    gradient[r * cols + t] = -(weight?[t] ?? 1) / Float(norm)
                }
            }
        }
        return norm == 0 ? 0 : Float(sum / norm)
    }

    static func make(_ o: Options) throws -> Loss {
        NLL(weight: try o.floats("weight"),
            ignoreIndex: Int32(try o.int("ignore_index", min: Int(Int32.min), max: Int(Int32.max))),
            reduction: try Reduction(o))
    }
}

// MARK: - Its registry entry

extension NLL {
    public static let entry = RegistryEntry<LossFactory>(name: "nll", summary: "-output[target], for log-probabilities (nn.NLLLoss)",
            options: [.classWeights, .ignoreIndex, reductionSpec],
            details: "End the model with log_softmax. A batch whose targets all equal ignore_index has loss 0.",
            example: "loss nll", make: { try NLL.make($0.options) })
}
