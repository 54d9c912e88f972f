/// The lowering of a 2-D convolution (or pooling window) to a matrix product, as Caffe's
/// im2col: for one image [C, H, W], each column of `cols` is one output position and each row
/// one (channel, kernel row, kernel column), so that W[OUT, C·KH·KW] · cols gives the output.
/// Out-of-image positions (padding) read as zero. Kernel, stride and dilation may differ
/// between the axes, and padding between the four sides (`padding=same` pads an even kernel
/// more after than before, as PyTorch does).
public struct ConvGeometry: Equatable, Sendable {
    public let channels: Int, height: Int, width: Int
    public let kernelHeight: Int, kernelWidth: Int
    public let strideHeight: Int, strideWidth: Int
    /// Zeros before the first row and column, and after the last.
    public let padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
    public let dilationHeight: Int, dilationWidth: Int

    public init(channels: Int, height: Int, width: Int, kernel: (Int, Int), stride: (Int, Int),
                padding: (top: Int, left: Int, bottom: Int, right: Int), dilation: (Int, Int) = (1, 1)) {
        self.channels = channels
        self.height = height
        self.width = width
        (kernelHeight, kernelWidth) = kernel
        (strideHeight, strideWidth) = stride
        (padTop, padLeft, padBottom, padRight) = padding
        (dilationHeight, dilationWidth) = dilation
    }

    /// A square kernel and stride, the same padding on every side, no dilation.
    public init(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
        self.init(channels: channels, height: height, width: width, kernel: (kernel, kernel), stride: (stride, stride),
                  padding: (padding, padding, padding, padding))
    }

    /// A pooling window's geometry, PyTorch's output size: with `ceilMode` a last window that
    /// starts inside the image (or its padding before the end) is kept, as padding after it.
    public static func pooling(channels: Int, height: Int, width: Int, kernel: (Int, Int), stride: (Int, Int),
                               padding: (Int, Int), dilation: (Int, Int) = (1, 1), ceilMode: Bool) -> ConvGeometry {
        func extra(_ size: Int, _ k: Int, _ s: Int, _ p: Int, _ d: Int) -> Int {
            let span = size + 2 * p - d * (k - 1) - 1
            guard ceilMode, span >= 0 else { return 0 }
            var out = (span + s - 1) / s + 1
            if (out - 1) * s >= size + p { out -= 1 }
            return (out - 1) * s - span
        }
        let eh = extra(height, kernel.0, stride.0, padding.0, dilation.0), ew = extra(width, kernel.1, stride.1, padding.1, dilation.1)
        return ConvGeometry(channels: channels, height: height, width: width, kernel: kernel, stride: stride,
                            padding: (padding.0, padding.1, padding.0 + eh, padding.1 + ew), dilation: dilation)
    }

    /// Whether it is square, padded alike on every side and not dilated: what the direct
    /// kernels and the fast pooling paths take. `kernel`, `stride` and `padding` are its sizes.
    public var isSquare: Bool {
        kernelHeight == kernelWidth && strideHeight == strideWidth && dilationHeight == 1 && dilationWidth == 1
            && padTop == padLeft && padTop == padBottom && padTop == padRight
    }
    public var kernel: Int { kernelHeight }
    public var stride: Int { strideHeight }
    public var padding: Int { padTop }

    /// floor((H + pads − D·(K − 1) − 1) / S) + 1, as PyTorch (ceil_mode off).
    public var outputHeight: Int { (height + padTop + padBottom - dilationHeight * (kernelHeight - 1) - 1) / strideHeight + 1 }
    public var outputWidth: Int { (width + padLeft + padRight - dilationWidth * (kernelWidth - 1) - 1) / strideWidth + 1 }
    /// Output positions an image.
    public var positions: Int { outputHeight * outputWidth }
    /// Taps of the kernel: KH·KW.
    public var taps: Int { kernelHeight * kernelWidth }
    /// Rows of the column matrix: C·KH·KW.
    public var patch: Int { channels * taps }
    public var inputSize: Int { channels * height * width }

    /// For kernel row `kh`: the offset of its input row from y·SH, and the output rows whose
    /// input row is inside the image, y0 ..< y1.
    @inline(__always)
    private func rows(_ kh: Int) -> (offset: Int, y0: Int, y1: Int) {
        let offset = kh * dilationHeight - padTop, s = strideHeight, oh = outputHeight
        let y0 = min(oh, max(0, (-offset + s - 1) / s)), y1 = max(y0, min(oh, (height - offset + s - 1) / s))
        return (offset, y0, y1)
    }

    /// Writes image `x` [C, H, W] as columns `column ..< column + positions` of `cols`, a
    /// row-major matrix of `patch` rows and `rowStride` columns.
    public func im2col(_ x: UnsafePointer<Float>, into cols: UnsafeMutablePointer<Float>, column: Int, rowStride: Int) {
        let oh = outputHeight, ow = outputWidth, sh = strideHeight, sw = strideWidth
        for c in 0..<channels {
            let plane = x + c * height * width
            for kh in 0..<kernelHeight {
                let (offH, y0, y1) = rows(kh)
                for kw in 0..<kernelWidth {
                    let offW = kw * dilationWidth - padLeft
                    let dst = cols + ((c * kernelHeight + kh) * kernelWidth + kw) * rowStride + column
                    if y0 > 0 { dst.update(repeating: 0, count: y0 * ow) }
                    if y1 < oh { (dst + y1 * ow).update(repeating: 0, count: (oh - y1) * ow) }
                    if sw == 1 {
                        // Each output row is a run of an input row: zeros where it falls outside.
                        let first = min(ow, max(0, -offW)), last = max(first, min(ow, width - offW))
                        var y = y0
                        while y < y1 {
                            let out = dst + y &* ow, row = plane + ((y &* sh &+ offH) &* width &+ offW)
                            var j = 0
                            while j < first { out[j] = 0; j &+= 1 }
                            Kernels.copyRun(row + first, out + first, last &- first)
                            j = last
                            while j < ow { out[j] = 0; j &+= 1 }
                            y &+= 1
                        }
                    } else {
                        for y in y0..<y1 {
                            let out = dst + y * ow, row = plane + (y * sh + offH) * width
                            for xo in 0..<ow {
                                let ix = xo * sw + offW
                                out[xo] = ix >= 0 && ix < width ? row[ix] : 0
                            }
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds columns `column ..< column + positions` of `cols` back
    /// into image `dx` [C, H, W] (which the caller has zeroed or holds a sum).
    public func col2im(_ cols: UnsafePointer<Float>, column: Int, rowStride: Int, into dx: UnsafeMutablePointer<Float>) {
        let ow = outputWidth, sh = strideHeight, sw = strideWidth
        for c in 0..<channels {
            let plane = dx + c * height * width
            for kh in 0..<kernelHeight {
                let (offH, y0, y1) = rows(kh)
                for kw in 0..<kernelWidth {
                    let offW = kw * dilationWidth - padLeft
                    let src = cols + ((c * kernelHeight + kh) * kernelWidth + kw) * rowStride + column
                    let first = min(ow, max(0, (-offW + sw - 1) / sw)), last = max(first, min(ow, (width - offW + sw - 1) / sw))
                    for y in y0..<y1 {
                        let row = plane + (y * sh + offH) * width + offW, from = src + y * ow
                        var j = first
                        while j < last { row[j &* sw] += from[j]; j &+= 1 }
                    }
                }
            }
        }
    }
}

/// Reads the [C, H, W] a spatial layer needs from the shape the layer before gives.
func spatialShape(_ shape: [Int]?, layer: String) throws -> (c: Int, h: Int, w: Int) {
    guard let shape else { throw EngineError("\(layer): the input's shape is unknown", hint: "load image data first ('data train mnist')") }
    guard shape.count == 3 else {
        throw EngineError("\(layer) needs images [C, H, W], but the layer before gives \(shape) (a flatten or linear layer comes after the convolutions)")
    }
    return (shape[0], shape[1], shape[2])
}

/// A pooling layer's window: its name for messages, and K, stride (K by default) and padding
/// (at most half the window, as PyTorch requires), each N or H,W.
func poolingWindow(_ a: Arguments, layer: String, usage: String) throws -> (name: String, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)) {
    try a.expectPositional(atMost: 1, usage: usage)
    guard let word = a.positional.first else { throw EngineError("\(layer) needs its window size: expected '\(usage)'") }
    let name = "\(layer) \(word)"
    let k = try layerPair(word, "window size", layer: layer, usage: usage, min: 1, max: 1024)
    let stride = a.options.has("stride") ? try layerPair(a.options.string("stride"), "stride", layer: layer, usage: usage, min: 1, max: 1024) : k
    let padding = try layerPair(a.options.string("padding"), "padding", layer: layer, usage: usage, min: 0, max: 1024)
    guard padding.0 <= k.0 / 2, padding.1 <= k.1 / 2 else {
        throw EngineError("\(name): padding=\(a.options.string("padding")) must be at most half the window, as PyTorch requires")
    }
    return (name, k, stride, padding)
}

extension OptionSpec {
    /// Options the pooling layers share.
    static let poolStride = OptionSpec("stride", "K", "step between windows (the window size by default): N, or H,W")
    static let ceilMode = OptionSpec("ceil_mode", "false", "round the output size up (a last, partial window)")
}

/// Parses "N" (both axes) or "H,W" for a layer's word or option, each in a range.
func layerPair(_ text: String, _ what: String, layer: String, usage: String, min: Int, max: Int = 1 << 16) throws -> (Int, Int) {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false)
    guard parts.count == 1 || parts.count == 2 else {
        throw EngineError("\(layer): \(what) '\(text)' is not N or H,W: expected '\(usage)'")
    }
    let values = try parts.map { try layerInt(String($0), what, layer: layer, usage: usage, min: min, max: max) }
    return (values[0], values.count == 2 ? values[1] : values[0])
}

/// "3" when both are 3, else "3,5": how a layer writes a pair back.
func pair(_ a: Int, _ b: Int) -> String { a == b ? String(a) : "\(a),\(b)" }

/// Parses a whole number for a layer's word or option, in a range.
func layerInt(_ text: String, _ what: String, layer: String, usage: String, min: Int, max: Int = 1 << 16) throws -> Int {
    guard let v = Int(text) else { throw EngineError("\(layer): \(what) '\(text)' is not a whole number: expected '\(usage)'") }
    guard v >= min, v <= max else { throw EngineError("\(layer): \(what) \(v) is out of range: it must be \(min)...\(max)") }
    return v
}
