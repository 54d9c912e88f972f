/// `concat LAYERS branch LAYERS [branch LAYERS ...] end`: every branch on the same input, their
/// outputs joined along the channel axis (the first axis of a sample), as
/// torch.cat([b(x) for b in branches], dim=1) in an Inception block. Weights are named as a
/// PyTorch module with a `branches` nn.ModuleList of nn.Sequential: "branches.1.0.weight".
public final class Concat: Layer {
    public let name = "concat"
    let branches: [LayerList]
    public let outputShape: [Int]
    private let output = Tensor()
    private let gradInput = Tensor()
    private let branchGradients: [Tensor]

    /// Branches made in Swift, on samples of `inputShape`: their outputs must agree but for
    /// the first axis.
    public convenience init(branches: [[Layer]], inputShape: [Int]) throws {
        let lists = branches.map { LayerList($0, inputShape: inputShape) }
        try Self.checkShapes(lists)
        self.init(branches: lists)
    }

    private static func checkShapes(_ branches: [LayerList]) throws {
        guard let first = branches.first?.outputShape else { throw EngineError("concat holds no branches") }
        guard !first.isEmpty else { throw EngineError("concat: branch 0 gives a shape of no axes") }
        for (j, b) in branches.enumerated().dropFirst() {
            guard b.outputShape.count == first.count, b.outputShape.dropFirst() == first.dropFirst() else {
                throw EngineError("concat: branch 0 gives \(first) but branch \(j) gives \(b.outputShape): they are joined along the channels (a sample's first axis), so the rest must agree")
            }
        }
    }

    init(branches: [LayerList]) {
        self.branches = branches
        let first = branches[0].outputShape
        outputShape = [branches.reduce(0) { $0 + $1.outputShape[0] }] + first.dropFirst()
        branchGradients = branches.map { _ in Tensor() }
    }

    public var isTraining = true { didSet { for b in branches { b.setTraining(isTraining) } } }
    public var needsInputGradient = true { didSet { for b in branches { b.setNeedsInputGradient(needsInputGradient) } } }

    public var spec: Spec { Spec(name, blocks: branches.map(\.specs)) }
    public var definition: String {
        var lines = ["concat"]
        for (j, b) in branches.enumerated() { lines += (j > 0 ? ["branch"] : []) + b.indentedDefinition }
        return (lines + ["end"]).joined(separator: "\n")
    }
    public var sublayers: [(name: String, layer: Layer)] { branches.enumerated().flatMap { $0.element.named("branches.\($0.offset)") } }
    public var namedParameters: [(String, Parameter)] { namedParametersOfSublayers() }
    public var namedBuffers: [(String, Buffer)] { namedBuffersOfSublayers() }
    public var parameters: [Parameter] { namedParameters.map(\.1) }
    public var buffers: [Buffer] { namedBuffers.map(\.1) }

    public func forward(_ x: Tensor) -> Tensor {
        let outs = branches.map { $0.forward(x) }
        let rows = x.rows
        output.reshape([rows] + outputShape)
        let total = output.cols
        var offset = 0
        for o in outs {
            let w = o.cols
            for r in 0..<rows { (output.data + r * total + offset).update(from: o.data + r * w, count: w) }
            offset += w
        }
        return output
    }

    public func backward(_ gy: Tensor) -> Tensor {
        let rows = gy.rows, total = gy.cols
        var offset = 0, sum: Tensor?
        for (b, g) in zip(branches, branchGradients) {
            g.reshape([rows] + b.outputShape)
            let w = g.cols
            for r in 0..<rows { (g.data + r * w).update(from: gy.data + r * total + offset, count: w) }
            offset += w
            let gx = b.backward(g)
            guard needsInputGradient else { continue }
            if let s = sum {
                addElementwise(s.data, gx.data, into: s.data, count: s.count)
            } else {
                gradInput.reshape(gx.shape)
                gradInput.data.update(from: gx.data, count: gx.count)
                sum = gradInput
            }
        }
        return needsInputGradient ? gradInput : gy
    }

    public static let entry = RegistryEntry<LayerFactory>(
        name: "concat", summary: "its branches on the same input, joined along the channels (torch.cat(dim=1))",
        usage: "LAYERS branch LAYERS [branch LAYERS ...] end",
        details: "A block over lines: the first branch's layers, then 'branch' before each further branch's, then\n'end'. Branches must give the same shape but for the first axis (channels; features for flat\nsamples). Weights are named N.branches.J.I.…, as a PyTorch module with a branches nn.ModuleList.\nAn empty branch passes its input through.",
        example: "concat\n  conv2d 16 4 1\nbranch\n  conv2d 16 4 3 padding=1\nend",
        separator: "branch", make: make)

    static func make(_ a: LayerArguments) throws -> Layer {
        try a.expectPositional(atMost: 0, usage: "concat LAYERS branch LAYERS ... end")
        guard !a.blocks.isEmpty else { throw EngineError("concat holds no branches") }
        guard let input = a.inputShape else {
            throw EngineError("concat: the input's shape is unknown: load data first, or begin the model with a layer that says its input")
        }
        let branches = try a.blocks.indices.map { LayerList(try a.buildBlock($0, inputShape: input), inputShape: input) }
        try checkShapes(branches)
        return Concat(branches: branches)
    }
}
