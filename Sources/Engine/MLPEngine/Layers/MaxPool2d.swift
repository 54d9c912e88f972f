internal import CKernels

/// nn.MaxPool2d(K, stride=K, padding=0, dilation=1, ceil_mode=False): the largest value of
/// each window (padding never wins), the first on ties as PyTorch. Forward keeps each output's
/// argmax; backward routes the gradient to it.
public final class MaxPool2d: Layer {
    public let name = "maxpool2d"
    public let geometry: ConvGeometry
    public let ceilMode: Bool
    public var isTraining = true
    public var needsInputGradient = true
    private let output = Tensor()
    private let gradInput = Tensor()
    private var inputShape: [Int] = []
    /// For each output value, the index of its maximum within its image.
    private var argmax: [Int32] = []

    public convenience init(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
        self.init(.pooling(channels: channels, height: height, width: width, kernel: (kernel, kernel), stride: (stride, stride),
                           padding: (padding, padding), ceilMode: false), ceilMode: false)
    }

    public init(_ geometry: ConvGeometry, ceilMode: Bool) {
        self.geometry = geometry
        self.ceilMode = ceilMode
    }

    public var spec: Spec {
        let g = geometry
        var options: [(key: String, value: String)] = []
        if (g.strideHeight, g.strideWidth) != (g.kernelHeight, g.kernelWidth) { options.append(("stride", pair(g.strideHeight, g.strideWidth))) }
        if g.padTop != 0 || g.padLeft != 0 { options.append(("padding", pair(g.padTop, g.padLeft))) }
        if g.dilationHeight != 1 || g.dilationWidth != 1 { options.append(("dilation", pair(g.dilationHeight, g.dilationWidth))) }
        if ceilMode { options.append(("ceil_mode", "true")) }
        return Spec(name, args: [pair(g.kernelHeight, g.kernelWidth)], options: options)
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
        let twoByTwo = g.isSquare && g.kernel == 2 && g.stride == 2 && g.padding == 0
        argmax.withUnsafeMutableBufferPointer { am in
            let am = am.baseAddress!
            Parallel.shared.forEachSlice(of: batch * g.channels, minimum: 8) { start, count in
                if twoByTwo {
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
                            for kh in 0..<g.kernelHeight {
                                let iy = y * g.strideHeight - g.padTop + kh * g.dilationHeight
                                if iy < 0 || iy >= g.height { continue }
                                for kw in 0..<g.kernelWidth {
                                    let ix = xo * g.strideWidth - g.padLeft + kw * g.dilationWidth
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
        let dx = gradInput.data, dy = gy.data
        argmax.withUnsafeBufferPointer { am in
            let am = am.baseAddress!
            if g.isSquare && g.kernel == 2 && g.stride == 2 && g.padding == 0 {
                // Windows that tile the input: every value of dx is written once, no fill.
                let oh = g.outputHeight, ow = g.outputWidth
                Parallel.shared.forEachSlice(of: batch * g.channels, minimum: 8) { start, count in
                    mlpsh_maxpool2x2_backward(dy + start * oh * ow, am + start * oh * ow, Int32(start), Int32(count), Int32(g.channels),
                                              Int32(g.height), Int32(g.width), dx + start * g.height * g.width)
                }
                return
            }
            gradInput.fill(0)
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
        let usage = "maxpool2d K [stride=K] [padding=0] [dilation=1] [ceil_mode=false]"
        let (name, k, stride, padding) = try poolingWindow(a, layer: "maxpool2d", usage: usage)
        let dilation = try layerPair(a.options.string("dilation"), "dilation", layer: "maxpool2d", usage: usage, min: 1, max: 1024)
        let (c, h, w) = try spatialShape(a.inputShape, layer: name)
        guard h + 2 * padding.0 >= dilation.0 * (k.0 - 1) + 1, w + 2 * padding.1 >= dilation.1 * (k.1 - 1) + 1 else {
            throw EngineError("\(name): the window is larger than the \(h)x\(w) input")
        }
        let ceil = try a.options.bool("ceil_mode")
        return MaxPool2d(.pooling(channels: c, height: h, width: w, kernel: k, stride: stride, padding: padding,
                                  dilation: dilation, ceilMode: ceil), ceilMode: ceil)
    }
}

// MARK: - Its registry entry

extension MaxPool2d {
    public static let entry = RegistryEntry<LayerFactory>(name: "maxpool2d", summary: "the largest value of each K×K window (nn.MaxPool2d)",
            usage: "K", options: [.poolStride,
                                  OptionSpec("padding", "0", "implicit -inf on each side, at most K/2: N, or H,W"),
                                  OptionSpec("dilation", "1", "spacing between the window's taps: N, or H,W"),
                                  .ceilMode],
            details: "K is N or H,W. The output is (H + 2·P − D·(K−1) − 1)/S + 1 a side, rounded down (up with\nceil_mode, as PyTorch).",
            example: "maxpool2d 2", make: MaxPool2d.make)
}
