/// nn.AvgPool2d(K, stride=K): the mean of each K×K window.
public final class AvgPool2d: Layer {
    public let kind = "avgpool2d"
    public let geometry: ConvGeometry
    public var isTraining = true
    public var needsInputGradient = true
    private let output = Tensor()
    private let gradInput = Tensor()
    private var inputShape: [Int] = []

    public init(channels: Int, height: Int, width: Int, kernel: Int, stride: Int) {
        geometry = ConvGeometry(channels: channels, height: height, width: width, kernel: kernel, stride: stride, padding: 0)
    }

    public var spec: Spec {
        Spec(kind, args: [String(geometry.kernel)], options: geometry.stride != geometry.kernel ? [("stride", String(geometry.stride))] : [])
    }
    public var outputShape: [Int] { [geometry.channels, geometry.outputHeight, geometry.outputWidth] }
    public var parameters: [Parameter] { [] }

    public func forward(_ x: Tensor) -> Tensor {
        inputShape = x.shape
        let g = geometry, oh = g.outputHeight, ow = g.outputWidth, area = Float(g.kernel * g.kernel)
        output.reshape([x.rows] + outputShape)
        let src = x.data, dst = output.data
        Parallel.shared.forEachSlice(of: x.rows * g.channels, minimum: 8) { start, count in
            for plane in start..<(start + count) {
                let p = src + plane * g.height * g.width, o = dst + plane * oh * ow
                for y in 0..<oh {
                    for xo in 0..<ow {
                        var s: Float = 0
                        for kh in 0..<g.kernel {
                            let row = p + (y * g.stride + kh) * g.width + xo * g.stride
                            for kw in 0..<g.kernel { s += row[kw] }
                        }
                        o[y * ow + xo] = s / area
                    }
                }
            }
        }
        return output
    }

    public func backward(_ gy: Tensor) -> Tensor {
        let g = geometry, oh = g.outputHeight, ow = g.outputWidth, area = Float(g.kernel * g.kernel)
        gradInput.reshape(inputShape)
        gradInput.fill(0)
        let dx = gradInput.data, dy = gy.data
        for plane in 0..<(gy.rows * g.channels) {
            let p = dx + plane * g.height * g.width, d = dy + plane * oh * ow
            for y in 0..<oh {
                for xo in 0..<ow {
                    let share = d[y * ow + xo] / area
                    for kh in 0..<g.kernel {
                        let row = p + (y * g.stride + kh) * g.width + xo * g.stride
                        for kw in 0..<g.kernel { row[kw] += share }
                    }
                }
            }
        }
        return gradInput
    }

    static func make(_ a: LayerArguments) throws -> Layer {
        let usage = "avgpool2d K [stride=K]"
        try a.expectPositional(atMost: 1, usage: usage)
        guard let word = a.positional.first else { throw EngineError("avgpool2d needs its window size: expected '\(usage)'") }
        let k = try layerInt(word, "window size", layer: "avgpool2d", usage: usage, min: 1, max: 1024)
        let stride = a.options.has("stride") ? try a.options.int("stride", min: 1, max: 1024) : k
        let (c, h, w) = try spatialShape(a.inputShape, layer: "avgpool2d \(k)")
        guard h >= k, w >= k else { throw EngineError("avgpool2d \(k): the window is larger than the \(h)x\(w) input") }
        return AvgPool2d(channels: c, height: h, width: w, kernel: k, stride: stride)
    }
}
