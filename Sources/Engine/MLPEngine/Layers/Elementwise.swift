/// The shared body of layers that map each value on its own (relu, tanh, ...): a subclass
/// gives `apply` (y from x) and `derivative` (dx from x, y and dy); buffers and shapes live here.
open class ElementwiseLayer: Layer {
    public let name: String
    /// The shape of a sample, in and out.
    public let shape: [Int]
    public var isTraining = true
    public var needsInputGradient = true
    public let output = Tensor()
    public let gradInput = Tensor()
    public private(set) var input: Tensor?

    public init(kind: String, shape: [Int]) {
        name = kind
        self.shape = shape
    }

    open var spec: Spec { Spec(name) }
    /// The ONNX operator that computes it, with its attributes; nil when there is none (then
    /// a model holding it cannot be exported).
    open var onnxOperator: (op: String, attributes: [ONNXGraph.Attribute])? { nil }
    public var outputShape: [Int] { shape }
    public var parameters: [Parameter] { [] }

    /// y[i] = f(x[i]) for i in 0..<n.
    open func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        fatalError("\(name) must override apply")
    }

    /// dx[i] = f'(x[i]) * dy[i], given x, y = f(x) and dy.
    open func derivative(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                         _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        fatalError("\(name) must override derivative")
    }

    /// Values from which a pass is split across cores (a conv layer's activations).
    static let parallelCount = 65_536

    public func forward(_ x: Tensor) -> Tensor {
        input = x
        output.reshape(x.shape)
        let src = x.data, dst = output.data
        if x.count < Self.parallelCount { apply(src, dst, x.count); return output }
        Parallel.shared.forEachSlice(of: x.count, minimum: Self.parallelCount / 2) { [unowned self] start, n in
            self.apply(src + start, dst + start, n)
        }
        return output
    }

    public func backward(_ gy: Tensor) -> Tensor {
        gradInput.reshape(gy.shape)
        let x = input!.data, y = output.data, dy = gy.data, dx = gradInput.data
        if gy.count < Self.parallelCount { derivative(x, y, dy, dx, gy.count); return gradInput }
        Parallel.shared.forEachSlice(of: gy.count, minimum: Self.parallelCount / 2) { [unowned self] start, n in
            self.derivative(x + start, y + start, dy + start, dx + start, n)
        }
        return gradInput
    }
}

/// Makes an elementwise layer that takes no words and only the options in its spec.
public func makeElementwise(_ args: LayerArguments, kind: String,
                     _ make: ([Int]) throws -> Layer) throws -> Layer {
    try args.expectPositional(atMost: 0, usage: kind)
    guard let shape = args.inputShape else {
        throw EngineError("\(kind): the input's shape is unknown",
                          hint: "load data first ('data train mnist'), or begin the model with a layer that says its input ('linear 784 120')")
    }
    return try make(shape)
}
