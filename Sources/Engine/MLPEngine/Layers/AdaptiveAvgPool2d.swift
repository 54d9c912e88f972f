/// nn.AdaptiveAvgPool2d((H', W')): each output cell the mean of its share of the image, rows
/// floor(i·H/H') ..< ceil((i+1)·H/H') (and columns alike). `adaptive_avgpool2d 1` is global
/// average pooling.
public final class AdaptiveAvgPool2d: Layer {
    public let name = "adaptive_avgpool2d"
    public let channels: Int, height: Int, width: Int, outputHeight: Int, outputWidth: Int
    public var isTraining = true
    public var needsInputGradient = true
    private let output = Tensor()
    private let gradInput = Tensor()
    private var inputShape: [Int] = []
    private let windows: AveragingWindows

    public init(channels: Int, height: Int, width: Int, outputHeight: Int, outputWidth: Int) {
        (self.channels, self.height, self.width, self.outputHeight, self.outputWidth) = (channels, height, width, outputHeight, outputWidth)
        var windows: [AveragingWindows.Window] = []
        for i in 0..<outputHeight {
            let y0 = i * height / outputHeight, y1 = ((i + 1) * height + outputHeight - 1) / outputHeight
            for j in 0..<outputWidth {
                let x0 = j * width / outputWidth, x1 = ((j + 1) * width + outputWidth - 1) / outputWidth
                windows.append((y0, y1, x0, x1, 1 / Float((y1 - y0) * (x1 - x0))))
            }
        }
        self.windows = AveragingWindows(windows: windows, height: height, width: width)
    }

    public var spec: Spec { Spec(name, args: [pair(outputHeight, outputWidth)]) }
    public var outputShape: [Int] { [channels, outputHeight, outputWidth] }
    public var parameters: [Parameter] { [] }

    public func forward(_ x: Tensor) -> Tensor {
        inputShape = x.shape
        output.reshape([x.rows] + outputShape)
        windows.forward(x.data, into: output.data, planes: x.rows * channels)
        return output
    }

    public func backward(_ gy: Tensor) -> Tensor {
        gradInput.reshape(inputShape)
        gradInput.fill(0)
        windows.backward(gy.data, into: gradInput.data, planes: gy.rows * channels)
        return gradInput
    }

    public static let entry = RegistryEntry<LayerFactory>(
        name: "adaptive_avgpool2d", summary: "the mean of each of H×W equal shares of the image (nn.AdaptiveAvgPool2d)",
        usage: "H[,W]", details: "Output [C, H, W] whatever the input's size; 'adaptive_avgpool2d 1' is global average pooling.\nCell i covers rows floor(i·IH/H) ..< ceil((i+1)·IH/H), as PyTorch.",
        example: "adaptive_avgpool2d 1", make: make)

    static func make(_ a: LayerArguments) throws -> Layer {
        let usage = "adaptive_avgpool2d H[,W]"
        try a.expectPositional(atMost: 1, usage: usage)
        guard let word = a.positional.first else { throw EngineError("adaptive_avgpool2d needs its output size: expected '\(usage)'") }
        let size = try layerPair(word, "output size", layer: "adaptive_avgpool2d", usage: usage, min: 1, max: 4096)
        let (c, h, w) = try spatialShape(a.inputShape, layer: "adaptive_avgpool2d \(word)")
        guard size.0 * size.1 <= 1 << 24 else { throw EngineError("adaptive_avgpool2d \(word): the output is too large") }
        return AdaptiveAvgPool2d(channels: c, height: h, width: w, outputHeight: size.0, outputWidth: size.1)
    }
}
