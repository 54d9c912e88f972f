/// The lowering of a 2-D convolution (or pooling window) to a matrix product, as Caffe's
/// im2col: for one image [C, H, W], each column of `cols` is one output position and each row
/// one (channel, kernel row, kernel column), so that W[OUT, C·K·K] · cols gives the output.
/// Out-of-image positions (padding) read as zero.
public struct ConvGeometry: Equatable, Sendable {
    public let channels: Int, height: Int, width: Int
    public let kernel: Int, stride: Int, padding: Int

    public init(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
        self.channels = channels
        self.height = height
        self.width = width
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    /// floor((H + 2P − K) / S) + 1, as PyTorch (ceil_mode off).
    public var outputHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outputWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    /// Output positions an image.
    public var positions: Int { outputHeight * outputWidth }
    /// Rows of the column matrix: C·K·K.
    public var patch: Int { channels * kernel * kernel }
    public var inputSize: Int { channels * height * width }

    /// Writes image `x` [C, H, W] as columns `column ..< column + positions` of `cols`, a
    /// row-major matrix of `patch` rows and `rowStride` columns.
    public func im2col(_ x: UnsafePointer<Float>, into cols: UnsafeMutablePointer<Float>, column: Int, rowStride: Int) {
        let oh = outputHeight, ow = outputWidth, k = kernel, s = stride, p = padding
        for c in 0..<channels {
            let plane = x + c * height * width
            for kh in 0..<k {
                // The output rows whose input row is inside the image: y0 ..< y1.
                let y0 = min(oh, max(0, (p - kh + s - 1) / s)), y1 = max(y0, min(oh, (height + p - kh + s - 1) / s))
                for kw in 0..<k {
                    let dst = cols + ((c * k + kh) * k + kw) * rowStride + column
                    if y0 > 0 { dst.update(repeating: 0, count: y0 * ow) }
                    if y1 < oh { (dst + y1 * ow).update(repeating: 0, count: (oh - y1) * ow) }
                    if s == 1 {
                        // Each output row is a run of an input row: zeros where it falls outside.
                        let first = min(ow, max(0, p - kw)), last = max(first, min(ow, width + p - kw))
                        let firstRow: Int = (y0 &- p &+ kh) &* width &+ (kw &- p)
                        var y = y0, out = dst + y0 &* ow, row = plane + firstRow
                        while y < y1 {
                            var j = 0
                            while j < first { out[j] = 0; j &+= 1 }
                            Kernels.copyRun(row + first, out + first, last &- first)
                            j = last
                            while j < ow { out[j] = 0; j &+= 1 }
                            y &+= 1
                            out += ow
                            row += width
                        }
                    } else {
                        for y in y0..<y1 {
                            let out = dst + y * ow, row = plane + (y * s - p + kh) * width
                            for xo in 0..<ow {
                                let ix = xo * s - p + kw
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
        let oh = outputHeight, ow = outputWidth, k = kernel, s = stride, p = padding
        for c in 0..<channels {
            let plane = dx + c * height * width
            for kh in 0..<k {
                for kw in 0..<k {
                    var src = cols + ((c * k + kh) * k + kw) * rowStride + column
                    for y in 0..<oh {
                        let iy = y * s - p + kh
                        if iy >= 0 && iy < height {
                            let row = plane + iy * width
                            if s == 1 {
                                let first = min(ow, max(0, p - kw)), last = max(first, min(ow, width + p - kw))
                                let dst = row + (kw &- p)
                                var j = first
                                while j < last { dst[j] += src[j]; j &+= 1 }
                            } else {
                                for xo in 0..<ow {
                                    let ix = xo * s - p + kw
                                    if ix >= 0 && ix < width { row[ix] += src[xo] }
                                }
                            }
                        }
                        src += ow
                    }
                }
            }
        }
    }
}

/// Reads the [C, H, W] a spatial layer needs from the shape the layer before gives.
func spatialShape(_ shape: [Int]?, layer: String) throws -> (c: Int, h: Int, w: Int) {
    guard let shape else { throw EngineError("\(layer): the input's shape is unknown: load image data first ('data train mnist')") }
    guard shape.count == 3 else {
        throw EngineError("\(layer) needs images [C, H, W], but the layer before gives \(shape) (a flatten or linear layer comes after the convolutions)")
    }
    return (shape[0], shape[1], shape[2])
}

/// Parses a whole number for a layer's word or option, in a range.
func layerInt(_ text: String, _ what: String, layer: String, usage: String, min: Int, max: Int = 1 << 16) throws -> Int {
    guard let v = Int(text) else { throw EngineError("\(layer): \(what) '\(text)' is not a whole number: expected '\(usage)'") }
    guard v >= min, v <= max else { throw EngineError("\(layer): \(what) \(v) is out of range: it must be \(min)...\(max)") }
    return v
}
