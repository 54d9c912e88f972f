import Foundation
import MLPEngine

// Smooth activations as PyTorch defines them (torch.nn.GELU, SiLU, ELU, Softplus, Mish),
// each with its exact derivative. y = f(x) element by element; dx = f'(x) · dy.

/// x · Φ(x) (approximate=none), or PyTorch's tanh form (approximate=tanh).
final class GELU: ElementwiseLayer {
    let tanhForm: Bool
    init(shape: [Int], tanhForm: Bool) {
        self.tanhForm = tanhForm
        super.init(kind: "gelu", shape: shape)
    }
    override var spec: Spec { Spec(name, options: tanhForm ? [("approximate", "tanh")] : []) }

    private static let k: Float = (2 / Float.pi).squareRoot()
    private static let c: Float = 0.044715

    override func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        if tanhForm {
            for i in 0..<n {
                let v = x[i]
                y[i] = 0.5 * v * (1 + tanhf(Self.k * (v + Self.c * v * v * v)))
            }
        } else {
            for i in 0..<n { y[i] = 0.5 * x[i] * (1 + erff(x[i] * Float(0.5).squareRoot())) }
        }
    }

    override func derivative(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                             _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        if tanhForm {
            for i in 0..<n {
                let v = x[i]
                let t = tanhf(Self.k * (v + Self.c * v * v * v))
                dx[i] = dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * Self.k * (1 + 3 * Self.c * v * v))
            }
        } else {
            let invSqrt2Pi = 1 / (2 * Float.pi).squareRoot()
            for i in 0..<n {
                let v = x[i]
                let cdf = 0.5 * (1 + erff(v * Float(0.5).squareRoot()))
                dx[i] = dy[i] * (cdf + v * invSqrt2Pi * expf(-0.5 * v * v))
            }
        }
    }
}

/// x · σ(x), also called swish.
final class SiLU: ElementwiseLayer {
    init(shape: [Int]) { super.init(kind: "silu", shape: shape) }
    override func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = x[i] / (1 + expf(-x[i])) }
    }
    override func derivative(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                             _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n {
            let s = 1 / (1 + expf(-x[i]))
            dx[i] = dy[i] * s * (1 + x[i] * (1 - s))
        }
    }
}

/// x for x > 0, else α(eˣ − 1).
final class ELU: ElementwiseLayer {
    let alpha: Float
    init(shape: [Int], alpha: Float) {
        self.alpha = alpha
        super.init(kind: "elu", shape: shape)
    }
    override var spec: Spec { Spec(name, options: [("alpha", "\(alpha)")]) }
    override func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = x[i] > 0 ? x[i] : alpha * expm1f(x[i]) }
    }
    override func derivative(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                             _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { dx[i] = x[i] > 0 ? dy[i] : dy[i] * alpha * expf(x[i]) }
    }
}

/// (1/β) log(1 + e^(βx)), and x itself where βx > threshold, as torch.nn.Softplus.
final class Softplus: ElementwiseLayer {
    let beta: Float
    let threshold: Float
    init(shape: [Int], beta: Float, threshold: Float) {
        self.beta = beta
        self.threshold = threshold
        super.init(kind: "softplus", shape: shape)
    }
    override var spec: Spec { Spec(name, options: [("beta", "\(beta)"), ("threshold", "\(threshold)")]) }
    override func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = beta * x[i] > threshold ? x[i] : log1pf(expf(beta * x[i])) / beta }
    }
    override func derivative(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                             _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { dx[i] = beta * x[i] > threshold ? dy[i] : dy[i] / (1 + expf(-beta * x[i])) }
    }
}

/// x · tanh(softplus(x)).
final class Mish: ElementwiseLayer {
    init(shape: [Int]) { super.init(kind: "mish", shape: shape) }
    override func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = x[i] * tanhf(log1pf(expf(x[i]))) }
    }
    override func derivative(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                             _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n {
            let t = tanhf(log1pf(expf(x[i])))
            let s = 1 / (1 + expf(-x[i]))
            dx[i] = dy[i] * (t + x[i] * s * (1 - t * t))
        }
    }
}
