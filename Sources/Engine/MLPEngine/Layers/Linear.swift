/// y = x Wᵀ + b, as nn.Linear: W is [out, in], b is [out], both initialised uniform in
/// ±1/sqrt(in). An image input is flattened, as `input.view(-1, 28*28)` does.
public final class Linear: Layer {
    public let name = "linear"
    public let inputWidth: Int
    public let outputWidth: Int
    public let weight: Parameter
    public let bias: Parameter
    public var isTraining = true
    public var needsInputGradient = true

    private let output = Tensor()
    private let gradInput = Tensor()
    private var input: Tensor?

    public init(inputWidth: Int, outputWidth: Int, random: RandomGenerator) {
        self.inputWidth = inputWidth
        self.outputWidth = outputWidth
        weight = Parameter(name: "weight", shape: [outputWidth, inputWidth])
        bias = Parameter(name: "bias", count: outputWidth)
        Initializer.pytorchDefault(weight: weight, bias: bias, random: random)
    }

    public var statedInputShape: [Int]? { [inputWidth] }
    public var title: String { "linear(\(inputWidth) -> \(outputWidth))" }
    public var spec: Spec { Spec(name, args: [String(inputWidth), String(outputWidth)]) }
    public var outputShape: [Int] { [outputWidth] }
    public var parameters: [Parameter] { [weight, bias] }

    public func forward(_ x: Tensor) -> Tensor {
        let batch = x.rows
        input = x
        output.reshape(rows: batch, cols: outputWidth)
        // output[B,out] = x[B,in] · Wᵀ[in,out]   (M=B, N=out, K=in)
        BLAS.gemm(transA: false, transB: true, m: batch, n: outputWidth, k: inputWidth,
                  a: x.data, lda: inputWidth, b: weight.value.data, ldb: inputWidth,
                  beta: 0, c: output.data, ldc: outputWidth, split: .columns)
        Kernels.addRow(bias.value.data, to: output.data, rows: batch, outputWidth)
        return output
    }

    public func backward(_ gy: Tensor) -> Tensor {
        let x = input!, batch = gy.rows
        // dW[out,in] += gyᵀ[out,B] · x[B,in]   (M=out, N=in, K=B); a cleared dW is overwritten.
        let dW = weight.gradientForWriting()
        BLAS.gemm(transA: true, transB: false, m: outputWidth, n: inputWidth, k: batch,
                  a: gy.data, lda: outputWidth, b: x.data, ldb: inputWidth,
                  beta: dW.beta, c: dW.tensor.data, ldc: inputWidth)
        // db[out] += Σ_rows gy   (column sums)
        Kernels.addRows(gy.data, rows: batch, outputWidth, into: bias.grad.data)
        guard needsInputGradient else { return gradInput }
        gradInput.reshape(x.shape)
        // dx[B,in] = gy[B,out] · W[out,in]   (M=B, N=in, K=out)
        BLAS.gemm(transA: false, transB: false, m: batch, n: inputWidth, k: outputWidth,
                  a: gy.data, lda: outputWidth, b: weight.value.data, ldb: inputWidth,
                  beta: 0, c: gradInput.data, ldc: inputWidth)
        return gradInput
    }

    static func make(_ args: LayerArguments) throws -> Layer {
        let usage = "linear [IN] OUT"
        try args.expectPositional(atMost: 2, usage: usage)
        let widths = try args.positional.map { try parseWidth($0, usage: usage) }
        let inWidth: Int, outWidth: Int
        switch widths.count {
        case 2:
            inWidth = widths[0]; outWidth = widths[1]
            if let shape = args.inputShape, shape.reduce(1, *) != inWidth {
                throw EngineError("linear \(inWidth) \(outWidth): expects \(inWidth) inputs, but the layer before gives \(shape.reduce(1, *))")
            }
        case 1:
            inWidth = try args.inputWidth(for: "linear"); outWidth = widths[0]
        default:
            throw EngineError("linear needs its output width: expected '\(usage)'")
        }
        try checkParameterBudget(inWidth, outWidth, args)
        return Linear(inputWidth: inWidth, outputWidth: outWidth, random: args.random)
    }
}

/// The largest number of weights one layer, or a whole model, may have by default
/// (ModelLimits.standard): 2^28 floats is 1 GiB, and training keeps a gradient and optimizer
/// state beside each.
public let maximumLayerParameters = ModelLimits.standard.parameters

/// Parses a layer width: a whole number from 1 to 2^24.
public func parseWidth(_ text: String, usage: String) throws -> Int {
    guard let v = Int(text) else { throw EngineError("'\(text)' is not a width: expected '\(usage)' with whole numbers") }
    guard v >= 1 else { throw EngineError("width \(v) is out of range: widths must be >= 1") }
    guard v <= 1 << 24 else { throw EngineError("width \(v) is too large: widths must be <= \(1 << 24)") }
    return v
}

/// Checks, before a layer allocates them, that its `a`·`b` weights fit what the model has left.
public func checkParameterBudget(_ a: Int, _ b: Int, _ args: LayerArguments) throws {
    let (p, overflow) = a.multipliedReportingOverflow(by: b)
    let left = args.limits.parameters
    if overflow || p > left {
        let whole = left == ModelLimits.standard.parameters ? "at most \(left) weights a layer" : "the model has \(left) weights left of its limit"
        throw EngineError("a \(a)x\(b) layer is too large: \(whole)")
    }
}

// MARK: - Its registry entry

extension Linear {
    public static let entry = RegistryEntry<LayerFactory>(name: "linear", summary: "fully connected: y = x·Wᵀ + b (nn.Linear)",
            usage: "[IN] OUT",
            details: "W is [OUT, IN] and b is [OUT], both uniform in ±1/sqrt(IN) (PyTorch's default).\nWith one number, IN is the width of the layer before (or of the data); an image is flattened.",
            example: "linear 784 120", make: Linear.make)
}
