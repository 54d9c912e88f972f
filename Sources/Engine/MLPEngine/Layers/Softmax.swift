import Foundation

/// softmax or log_softmax over each row (dim=1), computed stably from the row maximum.
public final class Softmax: Layer {
    public let name: String
    public let isLog: Bool
    private let shape: [Int]
    public var isTraining = true
    public var needsInputGradient = true
    private let output = Tensor()
    private let gradInput = Tensor()

    public init(shape: [Int], log: Bool) {
        self.shape = shape
        isLog = log
        name = log ? "log_softmax" : "softmax"
    }

    public var spec: Spec { Spec(name) }
    public var outputShape: [Int] { shape }
    public var parameters: [Parameter] { [] }

    public func forward(_ x: Tensor) -> Tensor {
        output.reshape(rows: x.rows, cols: x.cols)
        for r in 0..<x.rows {
            rowSoftmax(x.row(r), output.row(r), x.cols, log: isLog)
        }
        return output
    }

    public func backward(_ gy: Tensor) -> Tensor {
        let n = gy.cols
        gradInput.reshape(rows: gy.rows, cols: n)
        for r in 0..<gy.rows {
            let y = output.row(r), g = gy.row(r), dx = gradInput.row(r)
            if isLog {
                // dx = dy - softmax · Σ dy
                var sum: Float = 0
                for j in 0..<n { sum += g[j] }
                for j in 0..<n { dx[j] = g[j] - expf(y[j]) * sum }
            } else {
                // dx = y ⊙ (dy - Σ y·dy)
                var dot: Float = 0
                for j in 0..<n { dot += y[j] * g[j] }
                for j in 0..<n { dx[j] = y[j] * (g[j] - dot) }
            }
        }
        return gradInput
    }

    static func make(_ a: LayerArguments, log: Bool) throws -> Layer {
        let kind = log ? "log_softmax" : "softmax"
        return try makeElementwise(a, kind: kind) { shape in
            // Over each row, as nn.Softmax(dim=1) after nn.Flatten. On images PyTorch's dim=1
            // is the channels at each position, which this layer does not do: refused, not guessed.
            guard shape.count == 1 else {
                throw EngineError("\(kind) works on a flat sample, but the layer before gives \(shape): put 'flatten' before it")
            }
            return Softmax(shape: shape, log: log)
        }
    }
}

/// Writes softmax (or log-softmax) of the n values at x into y; returns log Σ e^(x - max) + max.
@inline(__always)
public func rowSoftmax(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, log: Bool) {
    var m = -Float.infinity
    for j in 0..<n where x[j] > m { m = x[j] }
    var sum: Float = 0
    for j in 0..<n { let e = expf(x[j] - m); y[j] = e; sum += e }
    if log {
        let lse = logf(sum)
        for j in 0..<n { y[j] = x[j] - m - lse }
    } else {
        let inv = 1 / sum
        for j in 0..<n { y[j] *= inv }
    }
}

// MARK: - Its registry entry

extension Softmax {
    public static let entry = RegistryEntry<LayerFactory>(name: "softmax", summary: "exp(x) / Σ exp(x) over each row",
            example: "softmax", make: { try Softmax.make($0, log: false) })
    public static let logEntry = RegistryEntry<LayerFactory>(name: "log_softmax", summary: "log of softmax over each row (use with the nll loss)",
            example: "log_softmax", make: { try Softmax.make($0, log: true) })
}
