/// nn.MSELoss against the one-hot encoding of the class targets: the mean over every
/// element (rows × cols) of (out - onehot)², or the sum with reduction=sum.
public final class MSE: Loss {
    public let name = "mse"
    public let reduction: Reduction

    public init(reduction: Reduction = .mean) { self.reduction = reduction }

    public var spec: Spec { Spec(name, options: reduction == .mean ? [] : [("reduction", reduction.rawValue)]) }

    public func compute(output: UnsafePointer<Float>, rows: Int, cols: Int,
                        targets: UnsafePointer<Int32>, gradient: UnsafeMutablePointer<Float>?) throws -> Float {
        try checkTargets(targets, rows: rows, classes: cols, ignore: nil, owner: "mse")
        let norm = reduction == .mean ? Float(rows * cols) : 1
        var sum: Double = 0
        for r in 0..<rows {
            let t = Int(targets[r])
            for c in 0..<cols {
                let d = output[r * cols + c] - (c == t ? 1 : 0)
                sum += Double(d * d)
                gradient?[r * cols + c] = 2 * d / norm
            }
        }
        return Float(sum / Double(norm))
    }

    static func make(_ o: Options) throws -> Loss { MSE(reduction: try Reduction(o)) }
}

// MARK: - Its registry entry

extension MSE {
    public static let entry = RegistryEntry<LossFactory>(name: "mse", summary: "mean squared error against the one-hot target (nn.MSELoss)",
            options: [reductionSpec], details: "The mean is over every element: batch × outputs.",
            example: "loss mse", make: { try MSE.make($0.options) })
}
