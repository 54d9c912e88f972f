internal import CKernels

/// nn.MaxPool2d(K, stride=K, padding=0): the largest value of each K×K window (padding never
/// wins), the first on ties as PyTorch. Forward keeps each output's argmax; backward routes
/// the gradient to it.
public final class MaxPool2d: Layer {
    public let kind = "maxpool2d"
    public let geometry: ConvGeometry
    public var isTraining = true
    public var needsInputGradient = true
    private let output = Tensor()
    private let gradInput = Tensor()
    private var inputShape: [Int] = []
    /// For each output value, the index of its maximum within its image.
    private var argmax: [Int32] = []

    public init(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
        geometry = ConvGeometry(channels: channels, height: height, width: width, kernel: kernel, stride: stride, padding: padding)
    }

    public var spec: Spec {
        var options: [(key: String, value: String)] = []
        if geometry.stride != geometry.kernel { options.append(("stride", String(geometry.stride))) }
        if geometry.padding != 0 { options.append(("padding", String(geometry.padding))) }
        return Spec(kind, args: [String(geometry.kernel)], options: options)
    }
    public var outputShape: [Int] { [geometry.channels, geometry.outputHeight, geometry.outputWidth] }
    public var parameters: [Parameter] { [] }

    public func forward(_ x: Tensor) -> Tensor {
        inputShape = x.shape
        let g = geometry, batch = x.rows, oh = g.outputHeight, ow = g.outputWidth
        let perImage = g.channels * oh * ow
        output.reshape([batch] + outputShape)
        if argmax.count < batch * perImage { argmax = [Int32](repeating: 0, count: batch * perImage) }
        let src = x.data, dst = output.data
        argmax.withUnsafeMutableBufferPointer { am in
            let am = am.baseAddress!
            Parallel.shared.forEachSlice(of: batch * g.channels, minimum: 8) { start, count in
                if g.kernel == 2 && g.stride == 2 && g.padding == 0 {
                    // The common 2x2 window, in the same order as the general loop below.
                    mlpsh_maxpool2x2(src + start * g.height * g.width, Int32(start), Int32(count), Int32(g.channels), Int32(g.height), Int32(g.width),
                                     dst + start * oh * ow, am + start * oh * ow)
                    return
                }
                for plane in start..<(start + count) {
                    let image = plane / g.channels, c = plane % g.channels
                    let inPlane = src + plane * g.height * g.width
                    let base = Int32((c * g.height) * g.width)
                    for y in 0..<oh {
                        for xo in 0..<ow {
                            var best = -Float.infinity, at = -1
                            for kh in 0..<g.kernel {
                                let iy = y * g.stride - g.padding + kh
                                if iy < 0 || iy >= g.height { continue }
                                for kw in 0..<g.kernel {
                                    let ix = xo * g.stride - g.padding + kw
                                    if ix < 0 || ix >= g.width { continue }
                                    let v = inPlane[iy * g.width + ix]
                                    if at < 0 || v > best || v.isNaN { best = v; at = iy * g.width + ix }
                                }
                            }
                            let o = image * perImage + (c * oh + y) * ow + xo
                            dst[o] = best
                            am[o] = base + Int32(at)
                        }
                    }
                }
            }
        }
        return output
    }

    public func backward(_ gy: Tensor) -> Tensor {
        let g = geometry, batch = gy.rows, perImage = g.channels * g.outputHeight * g.outputWidth
        gradInput.reshape(inputShape)
        gradInput.fill(0)
        let dx = gradInput.data, dy = gy.data
        argmax.withUnsafeBufferPointer { am in
            let am = am.baseAddress!
            // Images are disjoint: each core routes its share's gradients.
            Parallel.shared.forEachSlice(of: batch, minimum: 8) { first, count in
                for image in first..<(first + count) {
                    let target = dx + image * g.inputSize
                    for i in 0..<perImage {
                        let o = image * perImage + i
                        target[Int(am[o])] += dy[o]
                    }
                }
            }
        }
        return gradInput
    }

    static func make(_ a: LayerArguments) throws -> Layer {
        let usage = "maxpool2d K [stride=K] [padding=0]"
        try a.expectPositional(atMost: 1, usage: usage)
        guard let word = a.positional.first else { throw EngineError("maxpool2d needs its window size: expected '\(usage)'") }
        let k = try layerInt(word, "window size", layer: "maxpool2d", usage: usage, min: 1, max: 1024)
        let stride = a.options.has("stride") ? try a.options.int("stride", min: 1, max: 1024) : k
        let padding = try a.options.int("padding", min: 0, max: 1024)
        guard padding <= k / 2 else {
            throw EngineError("maxpool2d \(k): padding=\(padding) must be at most half the window (\(k / 2)), as PyTorch requires")
        }
        let (c, h, w) = try spatialShape(a.inputShape, layer: "maxpool2d \(k)")
        guard h + 2 * padding >= k, w + 2 * padding >= k else {
            throw EngineError("maxpool2d \(k): the window is larger than the \(h)x\(w) input")
        }
        return MaxPool2d(channels: c, height: h, width: w, kernel: k, stride: stride, padding: padding)
    }
}
