import Foundation
import MLPEngine

/// The focal loss of Lin et al. (2017) on logits: −(1 − p_t)^γ · log p_t, p_t the softmax
/// probability of the target; γ = 0 is cross-entropy. Mean over the batch, or the sum.
final class FocalLoss: Loss {
    let name = "focal"
    let gamma: Float
    let reduction: Reduction
    private var p: [Float] = []

    init(gamma: Float, reduction: Reduction) {
        self.gamma = gamma
        self.reduction = reduction
    }

    var spec: Spec { Spec("focal", options: [("gamma", "\(gamma)")] + (reduction == .mean ? [] : [("reduction", reduction.rawValue)])) }

    func compute(output: UnsafePointer<Float>, rows: Int, cols: Int,
                 targets: UnsafePointer<Int32>, gradient: UnsafeMutablePointer<Float>?) throws -> Float {
        try checkTargets(targets, rows: rows, classes: cols, ignore: nil, owner: "focal")
        if p.count < cols { p = [Float](repeating: 0, count: cols) }
        let scale: Float = reduction == .mean ? 1 / Float(max(rows, 1)) : 1
        var total: Double = 0
        for r in 0..<rows {
            let x = output + r * cols, t = Int(targets[r])
            var m = x[0]
            for j in 1..<cols { m = max(m, x[j]) }
            var sum: Float = 0
            for j in 0..<cols { p[j] = expf(x[j] - m); sum += p[j] }
            for j in 0..<cols { p[j] /= sum }
            let logpt = x[t] - m - logf(sum)
            let pt = p[t], q = max(1 - pt, 0)
            let focus = powf(q, gamma)
            total += Double(-focus * logpt)
            guard let g = gradient?.advanced(by: r * cols) else { continue }
            // d/dp_t of −q^γ log p_t, times d p_t / d x_j = p_t (δ_tj − p_j); plus −q^γ (δ_tj − p_j).
            let dFocus = gamma == 0 ? 0 : gamma * powf(q, gamma - 1) * logpt * pt
            for j in 0..<cols {
                let delta: Float = j == t ? 1 : 0
                g[j] = scale * (dFocus - focus) * (delta - p[j])
            }
        }
        return Float(total) * scale
    }

    static func make(_ a: Arguments) throws -> Loss {
        let o = a.options
        return FocalLoss(gamma: try o.float("gamma", min: 0), reduction: try Reduction(o))
    }
}
