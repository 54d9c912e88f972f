import Foundation

/// nn.BatchNorm2d (samples [C, H, W]) and nn.BatchNorm1d (samples [F], or [C, L]): each channel
/// normalised, y = (x − μ)/√(σ² + eps)·weight + bias. In training μ and σ² (biased) are the
/// batch's, over the images and positions, and the running statistics move by `momentum`
/// toward them (the running variance with the unbiased σ², as PyTorch); in evaluation the
/// running statistics are used. Sums are taken in Double.
///
/// Saved as PyTorch saves it: weight, bias, running_mean, running_var (F32) and
/// num_batches_tracked (I64, shape []). Data-parallel training normalises with each rank's
/// own batch statistics, as PyTorch's DDP does without SyncBatchNorm.
public final class BatchNorm: Layer {
    public let name: String
    public let channels: Int
    /// Values a channel has in one sample: H·W, or L (1 for a vector).
    public let spatial: Int
    public let eps: Double
    public let momentum: Double
    private let shape: [Int]
    /// With a learnt scale and shift (weight, bias); without (affine=false) they stay 1 and 0
    /// and are neither trained nor saved, as PyTorch's BatchNorm(affine=False).
    public let affine: Bool
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Tensor
    public let runningVar: Tensor
    private let meanBuffer: Buffer, varBuffer: Buffer, countBuffer: Buffer
    public var isTraining = true
    public var needsInputGradient = true

    private let output = Tensor()
    private let gradInput = Tensor()
    /// x̂ of the last forward, and each channel's 1/√(σ² + eps) it used.
    /// The last forward pass's input, and each channel's mean and 1/σ in it: backward computes
    /// x̂ = (x − mean)·(1/σ) again (the same operations, so the same values) rather than keep it.
    private var input: Tensor?
    private var means: [Float] = [], inverseStd: [Float] = []
    /// Whether the last forward pass computed the ReLU after it too.
    public private(set) var rectified = false
    private var usedBatchStatistics = true

    public init(kind: String, shape: [Int], eps: Double, momentum: Double, affine: Bool = true) {
        self.name = kind
        self.affine = affine
        self.shape = shape
        channels = shape[0]
        spatial = shape.dropFirst().reduce(1, *)
        self.eps = eps
        self.momentum = momentum
        weight = Parameter(name: "weight", shape: [channels])
        bias = Parameter(name: "bias", shape: [channels])
        weight.value.fill(1)
        runningMean = Tensor(shape: [channels])
        runningVar = Tensor(shape: [channels])
        runningVar.fill(1)
        meanBuffer = Buffer(name: "running_mean", shape: [channels], floats: runningMean)
        varBuffer = Buffer(name: "running_var", shape: [channels], floats: runningVar)
        countBuffer = Buffer(name: "num_batches_tracked", shape: [], integers: [0])
    }

    public var spec: Spec {
        var options: [(key: String, value: String)] = []
        if eps != 1e-5 { options.append(("eps", "\(eps)")) }
        if momentum != 0.1 { options.append(("momentum", "\(momentum)")) }
        if !affine { options.append(("affine", "false")) }
        return Spec(name, args: [String(channels)], options: options)
    }
    public var outputShape: [Int] { shape }
    public var parameters: [Parameter] { affine ? [weight, bias] : [] }
    public var buffers: [Buffer] { [meanBuffer, varBuffer, countBuffer] }

    /// Batches seen in training (num_batches_tracked).
    public var batchesTracked: Int64 {
        if case .i64(let v) = countBuffer.values { return v.first ?? 0 }
        return 0
    }

    public func forward(_ x: Tensor) -> Tensor { forward(x, rectifying: false) }

    /// The forward pass; with `rectifying`, of this layer and the ReLU after it at once (one
    /// pass over the activations fewer each way, as oneDNN fuses them): y = max(0, BN(x)), and
    /// the next backward pass takes the ReLU's output gradient. Layer lists do it (LayerList).
    public func forward(_ x: Tensor, rectifying: Bool) -> Tensor {
        rectified = rectifying
        let batch = x.rows, c = channels, l = spatial
        output.reshape(x.shape)
        input = x
        if inverseStd.count != c {
            inverseStd = [Float](repeating: 0, count: c)
            means = [Float](repeating: 0, count: c)
        }
        usedBatchStatistics = isTraining
        let n = batch * l, training = isTraining, momentum = momentum, eps = eps
        let src = x.data, out = output.data
        let rMean = runningMean.data, rVar = runningVar.data, w = weight.value.data, bias = bias.value.data
        let meanOf = means.withUnsafeMutableBufferPointer { $0.baseAddress! }
        inverseStd.withUnsafeMutableBufferPointer { inv in
            let inv = inv.baseAddress!
            // The channels are independent: each core takes some, whole.
            Parallel.shared.forEachSlice(of: c, minimum: 1) { first, count in
                for ch in first..<(first + count) {
                    var mean: Float, invStd: Float
                    if training {
                        var sum = 0.0
                        for b in 0..<batch { sum += BatchNorm.sum(src + (b * c + ch) * l, l) }
                        let m = sum / Double(n)
                        var squares = 0.0
                        for b in 0..<batch { squares += BatchNorm.squaredDeviations(src + (b * c + ch) * l, l, from: Float(m)) }
                        let variance = squares / Double(n)
                        mean = Float(m)
                        invStd = Float(1 / (variance + eps).squareRoot())
                        let unbiased = n > 1 ? squares / Double(n - 1) : variance
                        rMean[ch] = Float((1 - momentum) * Double(rMean[ch]) + momentum * m)
                        rVar[ch] = Float((1 - momentum) * Double(rVar[ch]) + momentum * unbiased)
                    } else {
                        mean = rMean[ch]
                        invStd = Float(1 / (Double(rVar[ch]) + eps).squareRoot())
                    }
                    inv[ch] = invStd
                    meanOf[ch] = mean
                    let wc = w[ch], b0 = bias[ch]
                    for b in 0..<batch {
                        let offset = (b * c + ch) * l
                        BatchNorm.normalize(src + offset, l, mean: mean, invStd: invStd, scale: wc, shift: b0, rectify: rectifying,
                                            output: out + offset)
                    }
                }
            }
        }
        if isTraining, case .i64(let v) = countBuffer.values { countBuffer.values = .i64([(v.first ?? 0) &+ 1]) }
        return output
    }

    /// Σ p[0..<n], eight lanes of Float a run of a sample's channel, added up in Double.
    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        var lanes = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            lanes += UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var s = Double(lanes.sum())
        while i < n { s += Double(p[i]); i += 1 }
        return s
    }

    /// Σ (p[i] − m)² over i < n, as `sum`.
    @inline(__always)
    static func squaredDeviations(_ p: UnsafePointer<Float>, _ n: Int, from m: Float) -> Double {
        var lanes = SIMD8<Float>()
        let mv = SIMD8<Float>(repeating: m)
        var i = 0
        while i + 8 <= n {
            let d = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) - mv
            lanes += d * d
            i += 8
        }
        var s = Double(lanes.sum())
        while i < n { let d = Double(p[i] - m); s += d * d; i += 1 }
        return s
    }

    /// Σ a[i] and Σ a[i]·b[i] over i < n, as `sum`.
    /// y = x̂·scale + shift, x̂ = (x − mean)·invStd, 8 at a time (the same operations, in the
    /// same order, as one at a time); with `rectify`, max(0, y) as ReLU computes it.
    @inline(__always)
    static func normalize(_ p: UnsafePointer<Float>, _ n: Int, mean: Float, invStd: Float, scale: Float, shift: Float,
                          rectify: Bool, output y: UnsafeMutablePointer<Float>) {
        let m = SIMD8<Float>(repeating: mean), s = SIMD8<Float>(repeating: invStd)
        let w = SIMD8<Float>(repeating: scale), b = SIMD8<Float>(repeating: shift), zero = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            let v = (UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) - m) * s
            let out = v * w + b
            UnsafeMutableRawPointer(y + i).storeBytes(of: rectify ? zero.replacing(with: out, where: out .> 0) : out, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            let out = (p[i] - mean) * invStd * scale + shift
            y[i] = rectify && !(out > 0) ? 0 : out
            i += 1
        }
    }

    /// The output gradient as the layer's own sees it: dy, or (`gate`, the scale and shift of a
    /// rectified pass) dy where x̂·scale + shift > 0 and 0 elsewhere, as ReLU's backward.
    @inline(__always)
    static func gated(_ dy: SIMD8<Float>, _ xh: SIMD8<Float>, _ gate: (scale: Float, shift: Float)?) -> SIMD8<Float> {
        guard let gate else { return dy }
        let pre = xh * SIMD8(repeating: gate.scale) + SIMD8(repeating: gate.shift)
        return SIMD8<Float>().replacing(with: dy, where: pre .> 0)
    }

    @inline(__always)
    static func gated(_ dy: Float, _ xh: Float, _ gate: (scale: Float, shift: Float)?) -> Float {
        guard let gate else { return dy }
        return xh * gate.scale + gate.shift > 0 ? dy : 0
    }

    /// dx = scale·(g − meanDy − x̂·meanDyXh), x̂ = (x − mean)·invStd, g the gated dy, 8 at a time;
    /// for running statistics (`batchStatistics` false), dx = scale·g.
    @inline(__always)
    static func inputGradient(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, mean: Float, invStd: Float,
                              scale: Float, meanDy: Float, meanDyXh: Float, batchStatistics: Bool,
                              gate: (scale: Float, shift: Float)?, into dx: UnsafeMutablePointer<Float>) {
        let s = SIMD8<Float>(repeating: scale), m1 = SIMD8<Float>(repeating: meanDy), m2 = SIMD8<Float>(repeating: meanDyXh)
        let m = SIMD8<Float>(repeating: mean), inv = SIMD8<Float>(repeating: invStd)
        var i = 0
        while i + 8 <= n {
            let xh = (UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) - m) * inv
            let g = gated(UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD8<Float>.self), xh, gate)
            UnsafeMutableRawPointer(dx + i).storeBytes(of: batchStatistics ? s * (g - m1 - xh * m2) : s * g, as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            let xh = (x[i] - mean) * invStd, g = gated(dy[i], xh, gate)
            dx[i] = batchStatistics ? scale * (g - meanDy - xh * meanDyXh) : scale * g
            i += 1
        }
    }

    /// Σ g and Σ g·x̂, x̂ = (x − mean)·invStd, g the gated dy.
    @inline(__always)
    static func sums(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, mean: Float, invStd: Float,
                     gate: (scale: Float, shift: Float)?) -> (Double, Double) {
        var s1 = SIMD8<Float>(), s2 = SIMD8<Float>()
        let m = SIMD8<Float>(repeating: mean), inv = SIMD8<Float>(repeating: invStd)
        var i = 0
        while i + 8 <= n {
            let xh = (UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) - m) * inv
            let g = gated(UnsafeRawPointer(dy + i).loadUnaligned(as: SIMD8<Float>.self), xh, gate)
            s1 += g
            s2 += g * xh
            i += 8
        }
        var t1 = Double(s1.sum()), t2 = Double(s2.sum())
        while i < n {
            let xh = (x[i] - mean) * invStd, g = gated(dy[i], xh, gate)
            t1 += Double(g)
            t2 += Double(g) * Double(xh)
            i += 1
        }
        return (t1, t2)
    }

    /// Training: dx = w·(1/σ)/n · (n·dy − Σdy − x̂·Σ(dy·x̂)); evaluation: dx = w·(1/σ)·dy. After a
    /// rectified forward pass dy is the ReLU's output gradient, gated as ReLU's backward would.
    public func backward(_ gy: Tensor) -> Tensor {
        let batch = gy.rows, c = channels, l = spatial, n = Float(batch * l)
        gradInput.reshape(gy.shape)
        let affine = affine, wantInput = needsInputGradient, batchStatistics = usedBatchStatistics
        let gw = affine ? weight.grad.data : weight.value.data, gb = affine ? bias.grad.data : bias.value.data
        let dyAll = gy.data, src = input!.data, dxAll = gradInput.data, w = weight.value.data, shifts = bias.value.data
        let meanOf = means.withUnsafeBufferPointer { $0.baseAddress! }, rectified = rectified
        inverseStd.withUnsafeBufferPointer { inv in
            let inv = inv.baseAddress!
            Parallel.shared.forEachSlice(of: c, minimum: 1) { first, count in
                for ch in first..<(first + count) {
                    var sumDy = 0.0, sumDyXh = 0.0
                    let mean = meanOf[ch], invStd = inv[ch]
                    let gate = rectified ? (scale: w[ch], shift: shifts[ch]) : nil
                    for b in 0..<batch {
                        let offset = (b * c + ch) * l
                        let (s1, s2) = BatchNorm.sums(dyAll + offset, src + offset, l, mean: mean, invStd: invStd, gate: gate)
                        sumDy += s1
                        sumDyXh += s2
                    }
                    if affine {
                        gb[ch] += Float(sumDy)
                        gw[ch] += Float(sumDyXh)
                    }
                    guard wantInput else { continue }
                    let scale = w[ch] * inv[ch]
                    let meanDy = Float(sumDy) / n, meanDyXh = Float(sumDyXh) / n
                    for b in 0..<batch {
                        let offset = (b * c + ch) * l
                        let dy = dyAll + offset, dx = dxAll + offset
                        BatchNorm.inputGradient(dy, src + offset, l, mean: mean, invStd: invStd, scale: scale, meanDy: meanDy,
                                                meanDyXh: meanDyXh, batchStatistics: batchStatistics, gate: gate, into: dx)
                    }
                }
            }
        }
        return gradInput
    }

    static func make(_ a: LayerArguments, twoD: Bool) throws -> Layer {
        let kind = twoD ? "batchnorm2d" : "batchnorm1d"
        let usage = "\(kind) \(twoD ? "C" : "F") [eps=1e-05] [momentum=0.1] [affine=true]"
        try a.expectPositional(atMost: 1, usage: usage)
        guard let word = a.positional.first else { throw EngineError("\(kind) needs its number of \(twoD ? "channels" : "features"): expected '\(usage)'") }
        let c = try layerInt(word, twoD ? "C" : "F", layer: kind, usage: usage, min: 1, max: 1 << 24)
        guard let shape = a.inputShape else { throw EngineError("\(kind): the input's shape is unknown: load data first") }
        if twoD {
            guard shape.count == 3 else { throw EngineError("\(kind) \(c) needs images [C, H, W], but the layer before gives \(shape)") }
        } else {
            guard shape.count == 1 || shape.count == 2 else {
                throw EngineError("\(kind) \(c) needs [F] or [C, L], but the layer before gives \(shape) (batchnorm2d is for images)")
            }
        }
        guard shape[0] == c else {
            throw EngineError("\(kind) \(c): expects \(c) \(twoD ? "channels" : "features"), but the layer before gives \(shape[0]) (shape \(shape))")
        }
        let eps = try a.options.double("eps", min: 0, minExclusive: true)
        let momentum = try a.options.double("momentum", min: 0, max: 1)
        return BatchNorm(kind: kind, shape: shape, eps: eps, momentum: momentum, affine: try a.options.bool("affine"))
    }
}

// MARK: - Its registry entry

extension BatchNorm {
    private static let options = [OptionSpec("eps", "1e-05", "added to the variance"),
                                  OptionSpec("momentum", "0.1", "how far the running statistics move toward each batch's"),
                                  OptionSpec("affine", "true", "a learnt scale and shift (weight, bias) for each channel")]
    private static let details = "Batch statistics in training; running statistics in test, predict and confusion (eval mode).\nSaved as PyTorch: weight, bias, running_mean, running_var, num_batches_tracked. Under mpirun each\nrank normalises with its own share of the batch, as PyTorch's DDP does without SyncBatchNorm;\nafter each epoch every rank takes rank 0's running statistics."
    public static let entry2d = RegistryEntry<LayerFactory>(name: "batchnorm2d", summary: "normalises each channel of images over the batch (nn.BatchNorm2d)",
            usage: "C", options: options, details: details, example: "batchnorm2d 6", make: { try BatchNorm.make($0, twoD: true) })
    public static let entry1d = RegistryEntry<LayerFactory>(name: "batchnorm1d", summary: "normalises each feature over the batch (nn.BatchNorm1d)",
            usage: "F", options: options, details: details, example: "batchnorm1d 120", make: { try BatchNorm.make($0, twoD: false) })
}
