/// `residual LAYERS [shortcut LAYERS] end`: body(x) + shortcut(x), the shortcut the identity
/// when absent, as a ResNet block. Its weights are named as a PyTorch module with `body` and
/// `shortcut` nn.Sequential attributes names them: "body.0.weight", "shortcut.0.weight".
public final class Residual: Layer {
    public let name = "residual"
    let body: LayerList
    let shortcut: LayerList?
    public let outputShape: [Int]
    private let output = Tensor()
    private let gradInput = Tensor()

    init(body: LayerList, shortcut: LayerList?) {
        self.body = body
        self.shortcut = shortcut
        outputShape = body.outputShape
    }

    /// A block of layers made in Swift: `body` (and `shortcut`, the identity when nil) on
    /// samples of `inputShape`; their outputs must have the same shape.
    public convenience init(body: [Layer], shortcut: [Layer]? = nil, inputShape: [Int]) throws {
        let b = LayerList(body, inputShape: inputShape), s = shortcut.map { LayerList($0, inputShape: inputShape) }
        try Self.checkShapes(b, s, input: inputShape)
        self.init(body: b, shortcut: s)
    }

    private static func checkShapes(_ body: LayerList, _ shortcut: LayerList?, input: [Int]) throws {
        let other = shortcut?.outputShape ?? input
        guard body.outputShape == other else {
            throw EngineError("residual: the body gives \(body.outputShape) but the \(shortcut == nil ? "input (the shortcut when there is none)" : "shortcut") gives \(other): they are added, so they must agree")
        }
    }

    public var isTraining = true {
        didSet { body.setTraining(isTraining); shortcut?.setTraining(isTraining) }
    }

    public var needsInputGradient = true {
        didSet { body.setNeedsInputGradient(needsInputGradient); shortcut?.setNeedsInputGradient(needsInputGradient) }
    }

    public var spec: Spec { Spec(name, blocks: [body.specs] + (shortcut.map { [$0.specs] } ?? [])) }
    public var definition: String {
        (["residual"] + body.indentedDefinition + (shortcut.map { ["shortcut"] + $0.indentedDefinition } ?? []) + ["end"])
            .joined(separator: "\n")
    }
    public var sublayers: [(name: String, layer: Layer)] { body.named("body") + (shortcut?.named("shortcut") ?? []) }
    public var namedParameters: [(String, Parameter)] { namedParametersOfSublayers() }
    public var namedBuffers: [(String, Buffer)] { namedBuffersOfSublayers() }
    public var parameters: [Parameter] { namedParameters.map(\.1) }
    public var buffers: [Buffer] { namedBuffers.map(\.1) }

    public func forward(_ x: Tensor) -> Tensor {
        let a = body.forward(x)
        let b = shortcut?.forward(x) ?? x
        output.reshape([x.rows] + outputShape)
        addElementwise(a.data, b.data, into: output.data, count: output.count)
        return output
    }

    public func backward(_ gy: Tensor) -> Tensor {
        let a = body.backward(gy)
        let b = shortcut?.backward(gy) ?? gy
        guard needsInputGradient else { return gy }
        gradInput.reshape(a.shape)
        addElementwise(a.data, b.data, into: gradInput.data, count: gradInput.count)
        return gradInput
    }

    public static let entry = RegistryEntry<LayerFactory>(
        name: "residual", summary: "body(x) + shortcut(x): a ResNet block (the shortcut is x when absent)",
        usage: "LAYERS [shortcut LAYERS] end",
        details: "A block over lines: its body's layers, then optionally 'shortcut' and the shortcut's layers,\nthen 'end'. Body and shortcut must give the same shape. Weights are named N.body.I.… and\nN.shortcut.I.…, as a PyTorch module with body and shortcut nn.Sequential attributes. Blocks nest.",
        example: "residual\n  conv2d 8 8 3 padding=1\n  relu\n  conv2d 8 8 3 padding=1\nend",
        separator: "shortcut", make: make)

    static func make(_ a: LayerArguments) throws -> Layer {
        try a.expectPositional(atMost: 0, usage: "residual LAYERS [shortcut LAYERS] end")
        guard (1...2).contains(a.blocks.count) else {
            throw EngineError("residual holds a body and at most one shortcut, not \(a.blocks.count) lists of layers")
        }
        guard let input = a.inputShape else {
            throw EngineError("residual: the input's shape is unknown: load data first, or begin the model with a layer that says its input")
        }
        let body = LayerList(try a.buildBlock(0, inputShape: input), inputShape: input)
        let shortcut = a.blocks.count == 2 ? LayerList(try a.buildBlock(1, inputShape: input), inputShape: input) : nil
        try checkShapes(body, shortcut, input: input)
        return Residual(body: body, shortcut: shortcut)
    }
}
