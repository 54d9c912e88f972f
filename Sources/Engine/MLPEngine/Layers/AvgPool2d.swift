/// nn.AvgPool2d(K, stride=K, padding=0, ceil_mode=False, count_include_pad=True): the mean of
/// each window. As PyTorch: with count_include_pad the padding's zeros count in the mean (a
/// window running past the padding, with ceil_mode, is cut there); without, only the image's.
public final class AvgPool2d: Layer {
    public let name = "avgpool2d"
    public let geometry: ConvGeometry
    public let ceilMode: Bool, countIncludePad: Bool
    public var isTraining = true
    public var needsInputGradient = true
    private let output = Tensor()
    private let gradInput = Tensor()
    private var inputShape: [Int] = []
    /// For each output position of a plane: its window, clipped to the image, and 1/divisor.
    private let windows: AveragingWindows

    public convenience init(channels: Int, height: Int, width: Int, kernel: Int, stride: Int) {
        self.init(.pooling(channels: channels, height: height, width: width, kernel: (kernel, kernel), stride: (stride, stride),
                           padding: (0, 0), ceilMode: false), ceilMode: false, countIncludePad: true)
    }

    public init(_ geometry: ConvGeometry, ceilMode: Bool, countIncludePad: Bool) {
        self.geometry = geometry
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
        let g = geometry
        var windows: [AveragingWindows.Window] = []
        for y in 0..<g.outputHeight {
            for x in 0..<g.outputWidth {
                let hs = y * g.strideHeight - g.padTop, ws = x * g.strideWidth - g.padLeft
                let he = min(hs + g.kernelHeight, g.height + g.padTop), we = min(ws + g.kernelWidth, g.width + g.padLeft)
                let padded = (he - hs) * (we - ws)
                let (y0, y1, x0, x1) = (max(hs, 0), min(he, g.height), max(ws, 0), min(we, g.width))
                let inside = max(0, y1 - y0) * max(0, x1 - x0)
                windows.append((y0, y1, x0, x1, 1 / Float(max(1, countIncludePad ? padded : inside))))
            }
        }
        self.windows = AveragingWindows(windows: windows, height: g.height, width: g.width)
    }

    public var spec: Spec {
        let g = geometry
        var options: [(key: String, value: String)] = []
        if (g.strideHeight, g.strideWidth) != (g.kernelHeight, g.kernelWidth) { options.append(("stride", pair(g.strideHeight, g.strideWidth))) }
        if g.padTop != 0 || g.padLeft != 0 { options.append(("padding", pair(g.padTop, g.padLeft))) }
        if ceilMode { options.append(("ceil_mode", "true")) }
        if !countIncludePad { options.append(("count_include_pad", "false")) }
        return Spec(name, args: [pair(g.kernelHeight, g.kernelWidth)], options: options)
    }
    public var outputShape: [Int] { [geometry.channels, geometry.outputHeight, geometry.outputWidth] }
    public var parameters: [Parameter] { [] }

    public func forward(_ x: Tensor) -> Tensor {
        inputShape = x.shape
        output.reshape([x.rows] + outputShape)
        windows.forward(x.data, into: output.data, planes: x.rows * geometry.channels)
        return output
    }

    public func backward(_ gy: Tensor) -> Tensor {
        gradInput.reshape(inputShape)
        gradInput.fill(0)
        windows.backward(gy.data, into: gradInput.data, planes: gy.rows * geometry.channels)
        return gradInput
    }

    static func make(_ a: LayerArguments) throws -> Layer {
        let usage = "avgpool2d K [stride=K] [padding=0] [ceil_mode=false] [count_include_pad=true]"
        let (name, k, stride, padding) = try poolingWindow(a, layer: "avgpool2d", usage: usage)
        let (c, h, w) = try spatialShape(a.inputShape, layer: name)
        guard h + 2 * padding.0 >= k.0, w + 2 * padding.1 >= k.1 else {
            throw EngineError("\(name): the window is larger than the \(h)x\(w) input")
        }
        let ceil = try a.options.bool("ceil_mode")
        let g = ConvGeometry.pooling(channels: c, height: h, width: w, kernel: k, stride: stride, padding: padding, ceilMode: ceil)
        guard g.positions <= 1 << 24 else { throw EngineError("\(name): \(g.positions) output positions is too many") }
        return AvgPool2d(g, ceilMode: ceil, countIncludePad: try a.options.bool("count_include_pad"))
    }
}

// MARK: - Its registry entry

extension AvgPool2d {
    public static let entry = RegistryEntry<LayerFactory>(name: "avgpool2d", summary: "the mean of each K×K window (nn.AvgPool2d)",
            usage: "K", options: [.poolStride,
                                  OptionSpec("padding", "0", "zeros on each side, at most K/2: N, or H,W"),
                                  .ceilMode,
                                  OptionSpec("count_include_pad", "true", "whether the padding's zeros count in the mean")],
            details: "K is N or H,W. The output is (H + 2·P − K)/S + 1 a side, rounded down (up with ceil_mode,\nas PyTorch).",
            example: "avgpool2d 2", make: AvgPool2d.make)
}
