/// The optimizers' element-wise updates, 8 values at a time and then the remainder. Each
/// computes exactly the expressions of the plain loop in its comment, in the same order (no
/// fused multiply-add), so a step is bit-identical to the loop it replaced. They run on the
/// kernels' threads, a parameter split across cores when it is large.
extension Kernels {
    /// torch.optim.SGD with momentum: d = g + wd·w; b = first ? d : μ·b + damp·d;
    /// d = nesterov ? d + μ·b : b; w -= lr·d.
    static func momentumStep(_ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ b: UnsafeMutablePointer<Float>, _ n: Int,
                             lr: Float, mu: Float, damp: Float, wd: Float, first: Bool, nesterov: Bool) {
        Parallel.shared.forEachSlice(of: n) { start, count in
            let w = w + start, g = g + start, b = b + start
            let lrV = V(repeating: lr), muV = V(repeating: mu), dampV = V(repeating: damp), wdV = V(repeating: wd)
            var i = 0
            while i + 8 <= count {
                var d = load(g, i) + wdV * load(w, i)
                let bv = first ? d : muV * load(b, i) + dampV * d
                store(bv, b, i)
                d = nesterov ? d + muV * bv : bv
                store(load(w, i) - lrV * d, w, i)
                i += 8
            }
            while i < count {
                var d = g[i] + wd * w[i]
                b[i] = first ? d : mu * b[i] + damp * d
                d = nesterov ? d + mu * b[i] : b[i]
                w[i] -= lr * d
                i += 1
            }
        }
    }

    /// w[i] -= lr · (g[i] + wd · w[i])
    static func decayStep(_ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ n: Int, lr: Float, wd: Float) {
        Parallel.shared.forEachSlice(of: n) { start, count in
            let w = w + start, g = g + start
            let lrV = V(repeating: lr), wdV = V(repeating: wd)
            var i = 0
            while i + 8 <= count {
                let wv = load(w, i)
                store(wv - lrV * (load(g, i) + wdV * wv), w, i)
                i += 8
            }
            while i < count { w[i] -= lr * (g[i] + wd * w[i]); i += 1 }
        }
    }

    /// The constants of one Adam step.
    struct AdamStep {
        let lr: Float, wd: Float, oneMinusB1: Float, b2: Float, oneMinusB2: Float, bc2Sqrt: Float, eps: Float, stepSize: Float
        let decoupled: Bool
    }

    /// torch.optim.Adam (AdamW when decoupled): decoupled ? w *= 1 − lr·wd : grad += wd·w;
    /// m += (grad − m)·(1 − β1); v = β2·v + (1 − β2)·grad·grad; w -= stepSize·m / (√v / bc2 + eps).
    static func adamStep(_ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ m: UnsafeMutablePointer<Float>,
                         _ v: UnsafeMutablePointer<Float>, _ n: Int, _ c: AdamStep) {
        Parallel.shared.forEachSlice(of: n) { start, count in
            let w = w + start, g = g + start, m = m + start, v = v + start
            let decay = V(repeating: 1 - c.lr * c.wd), wdV = V(repeating: c.wd), b1 = V(repeating: c.oneMinusB1)
            let b2 = V(repeating: c.b2), oneMinusB2 = V(repeating: c.oneMinusB2), bc2 = V(repeating: c.bc2Sqrt)
            let eps = V(repeating: c.eps), stepSize = V(repeating: c.stepSize)
            var i = 0
            while i + 8 <= count {
                var grad = load(g, i), wv = load(w, i)
                if c.decoupled { wv *= decay } else { grad += wdV * wv }
                var mv = load(m, i)
                mv += (grad - mv) * b1
                let vv = b2 * load(v, i) + oneMinusB2 * grad * grad
                let denom = vv.squareRoot() / bc2 + eps
                store(mv, m, i)
                store(vv, v, i)
                store(wv - stepSize * mv / denom, w, i)
                i += 8
            }
            while i < count {
                var grad = g[i]
                if c.decoupled { w[i] *= 1 - c.lr * c.wd } else { grad += c.wd * w[i] }
                m[i] += (grad - m[i]) * c.oneMinusB1
                v[i] = c.b2 * v[i] + c.oneMinusB2 * grad * grad
                let denom = v[i].squareRoot() / c.bc2Sqrt + c.eps
                w[i] -= c.stepSize * m[i] / denom
                i += 1
            }
        }
    }
}
