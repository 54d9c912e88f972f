import Foundation
import MLPEngine

/// torch.nn.LayerNorm over each sample's features: y = (x − mean) / sqrt(var + eps) · weight + bias,
/// with the biased variance, weight starting at 1 and bias at 0.
final class LayerNorm: Layer {
    let name = "layer_norm"
    let width: Int
    let eps: Float
    let weight: Parameter
    let bias: Parameter
    var isTraining = true
    var needsInputGradient = true
    private let output = Tensor()
    private let gradInput = Tensor()
    /// x̂ and 1/σ of each row, kept for backward.
    private let normalized = Tensor()
    private var inverseStd: [Float] = []

    init(width: Int, eps: Float) {
        self.width = width
        self.eps = eps
        weight = Parameter(name: "weight", count: width)
        bias = Parameter(name: "bias", count: width)
        weight.value.fill(1)
        bias.value.fill(0)
    }

    var spec: Spec { Spec(name, options: [("eps", "\(eps)")]) }
    var outputShape: [Int] { [width] }
    var parameters: [Parameter] { [weight, bias] }

    func forward(_ x: Tensor) -> Tensor {
        output.reshape(x.shape)
        normalized.reshape(rows: x.rows, cols: x.cols)
        inverseStd = [Float](repeating: 0, count: x.rows)
        let n = width, w = weight.value.data, b = bias.value.data
        for r in 0..<x.rows {
            let row = x.row(r), xh = normalized.row(r), y = output.row(r)
            var mean: Float = 0
            for j in 0..<n { mean += row[j] }
            mean /= Float(n)
            var variance: Float = 0
            for j in 0..<n { variance += (row[j] - mean) * (row[j] - mean) }
            variance /= Float(n)
            let inv = 1 / (variance + eps).squareRoot()
            inverseStd[r] = inv
            for j in 0..<n {
                xh[j] = (row[j] - mean) * inv
                y[j] = xh[j] * w[j] + b[j]
            }
        }
        return output
    }

    /// dx = (1/σ) · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)) with ĝ = dy ⊙ weight.
    func backward(_ gy: Tensor) -> Tensor {
        gradInput.reshape(gy.shape)
        let n = width, w = weight.value.data, gw = weight.grad.data, gb = bias.grad.data
        for r in 0..<gy.rows {
            let dy = gy.row(r), xh = normalized.row(r), dx = gradInput.row(r)
            var meanG: Float = 0, meanGX: Float = 0
            for j in 0..<n {
                gw[j] += dy[j] * xh[j]
                gb[j] += dy[j]
                let g = dy[j] * w[j]
                meanG += g
                meanGX += g * xh[j]
            }
            meanG /= Float(n)
            meanGX /= Float(n)
            if needsInputGradient {
                for j in 0..<n { dx[j] = inverseStd[r] * (dy[j] * w[j] - meanG - xh[j] * meanGX) }
            }
        }
        return gradInput
    }

    static func make(_ a: LayerArguments) throws -> Layer {
        try a.expectPositional(atMost: 0, usage: "layer_norm [eps=E]")
        return LayerNorm(width: try a.inputWidth(for: "layer_norm"), eps: try a.options.float("eps", min: 0, minExclusive: true))
    }
}
