/// nn.Conv2d: y[b, o] = Σ_c W[o, c] ⋆ x[b, c] + bias[o], W [OUT, IN, K, K], initialised as
/// PyTorch's (kaiming_uniform_(a=√5) on W, bias uniform(±1/√fan_in), fan_in = IN·K·K).
///
/// Computed directly by SIMD kernels (DirectConvolution). Each core takes a contiguous share of
/// the batch through the whole layer (its own partial dW), so a pass has one barrier: the work
/// of a layer this small gains little from being split otherwise.
///
/// The earlier way stays for comparison (`lowersToColumns`, `bench layers conv=im2col`) and for
/// layers too large for the kernels' 32-bit offsets: lowered to matrix products (Caffe's
/// im2col), a group of images' patches become the columns of one [IN·K·K, G·L] matrix (L output
/// positions an image), and W[OUT, IN·K·K] · cols is every output of the group in one
/// cblas_sgemm; backward is two more products, dW += dY · colsᵀ and dcols = Wᵀ · dY, then col2im.
public final class Conv2d: Layer {
    public let kind = "conv2d"
    public let geometry: ConvGeometry
    public let outChannels: Int
    public let weight: Parameter
    public let bias: Parameter?
    public var isTraining = true
    public var needsInputGradient = true

    private let output = Tensor()
    private let gradInput = Tensor()
    private var input: Tensor?
    /// One a core: its columns, products, column gradients and partial dW and db.
    private var workspaces: [Workspace] = []
    /// At most this many floats of columns a core at once (128 KB): a share is done in groups
    /// small enough that the columns, and sgemm's packed copy of them, stay in the core's L2
    /// cache between im2col writing them and sgemm reading them. Measured on LeNet-5 (1 MB L2
    /// a core): 2^21 floats, 4.7 s an epoch; 2^16, 3.6 s; 2^15, 3.1 s; 2^14, 3.2 s. Backward
    /// then lowers its input again (columns are kept only when a share is one group), which
    /// costs less than the memory traffic of keeping them all.
    static let columnBudget = 1 << 15

    final class Workspace {
        var cols = Scratch(), product = Scratch(), gradColumns = Scratch(), dW = Scratch(), db = Scratch()
        /// The direct path's bordered input, and the output gradient's rows.
        var padded = Scratch(), gradientPadded = Scratch()
        /// The images (first, count) whose columns `cols` holds from the last forward pass.
        var lowered: (pass: Int, first: Int, count: Int)?
    }
    /// Counts forward passes, so backward knows whether the columns are of its input.
    private var pass = 0
    /// Computed directly (DirectConvolution); through columns only when its offsets would
    /// not fit 32 bits. Its tables (an offset an output position) are made at the first pass,
    /// not when the layer is built.
    private lazy var direct: DirectConvolution? = DirectConvolution(geometry, outChannels: outChannels)
    /// Lower to columns and multiply with sgemm instead of the direct kernels (as before
    /// them; `bench layers conv=im2col` compares the two). Set between training steps.
    public var lowersToColumns = false
    /// The weights as the direct forward kernel reads them.
    private let forwardWeights = Scratch()

    public init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, height: Int, width: Int, random: RandomGenerator) {
        geometry = ConvGeometry(channels: inChannels, height: height, width: width, kernel: kernel, stride: stride, padding: padding)
        self.outChannels = outChannels
        weight = Parameter(name: "weight", shape: [outChannels, inChannels, kernel, kernel])
        self.bias = bias ? Parameter(name: "bias", shape: [outChannels]) : nil
        Initializer.pytorchDefault(weight: weight, bias: self.bias, random: random)
    }

    public var spec: Spec {
        var options: [(key: String, value: String)] = []
        if geometry.stride != 1 { options.append(("stride", String(geometry.stride))) }
        if geometry.padding != 0 { options.append(("padding", String(geometry.padding))) }
        if bias == nil { options.append(("bias", "false")) }
        return Spec(kind, args: [String(geometry.channels), String(outChannels), String(geometry.kernel)], options: options)
    }
    public var outputShape: [Int] { [outChannels, geometry.outputHeight, geometry.outputWidth] }
    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    /// Runs body(workspace, first image, count) on each core's share of `batch` images, in
    /// groups that keep the columns within the budget.
    private func eachShare(_ batch: Int, group: Int? = nil, _ body: @escaping (Workspace, Int, Int) -> Void) {
        let g = geometry
        let group = group ?? max(1, Self.columnBudget / max(1, g.patch * g.positions))
        let pieces = max(1, min(Parallel.shared.ways, batch))
        while workspaces.count < pieces { workspaces.append(Workspace()) }
        let spaces = workspaces
        Parallel.shared.run(pieces) { t in
            let start = batch * t / pieces, end = batch * (t + 1) / pieces
            var first = start
            while first < end {
                let n = min(group, end - first)
                body(spaces[t], first, n)
                first += n
            }
        }
    }

    public func forward(_ x: Tensor) -> Tensor {
        input = x
        let batch = x.rows, g = geometry, o = outChannels, l = g.positions
        output.reshape([batch, o, g.outputHeight, g.outputWidth])
        let out = output.data, w = weight.value.data, b = bias?.value.data, src = x.data
        if let direct, !lowersToColumns {
            let weights = direct.forwardWeights(w, forwardWeights), bias = b.map { UnsafePointer($0) }
            eachShare(batch, group: 1) { ws, first, _ in
                direct.forward(src + first * g.inputSize, weights: weights, bias: bias, into: out + first * o * l,
                               padded: ws.padded, tile: ws.product)
            }
            return output
        }
        pass &+= 1
        let current = pass
        for ws in workspaces { ws.lowered = nil }
        eachShare(batch) { ws, first, n in
            let cols = ws.cols.reserve(n * g.patch * l), y = ws.product.reserve(n * o * l)
            for i in 0..<n { g.im2col(src + (first + i) * g.inputSize, into: cols, column: i * l, rowStride: n * l) }
            // A core whose share is one group keeps its columns for backward.
            ws.lowered = ws.lowered == nil ? (current, first, n) : (-1, 0, 0)
            // y[OUT, n·L] = W[OUT, C·K·K] · cols[C·K·K, n·L]
            BLAS.gemmOnThisThread(transA: false, transB: false, m: o, n: n * l, k: g.patch, a: w, lda: g.patch,
                                  b: cols, ldb: n * l, beta: 0, c: y, ldc: n * l)
            // To [B, OUT, L], adding the bias.
            for i in 0..<n {
                for ch in 0..<o {
                    let dst = out + ((first + i) * o + ch) * l, from = y + ch * n * l + i * l
                    Kernels.copyAdding(from, b?[ch] ?? 0, dst, l)
                }
            }
        }
        return output
    }

    public func backward(_ gy: Tensor) -> Tensor {
        let x = input!, batch = gy.rows, g = geometry, o = outChannels, l = g.positions
        let wantInput = needsInputGradient, hasBias = bias != nil
        if wantInput {
            gradInput.reshape(x.shape)
            gradInput.fill(0)
        }
        let w = weight.value.data, dx = gradInput.data, src = x.data, dyAll = gy.data
        let patch = g.patch, current = pass
        for ws in workspaces { ws.dW.count = 0 }
        if let direct, !lowersToColumns {
            let weights = UnsafePointer(w)
            eachShare(batch, group: 1) { ws, first, _ in
                let fresh = ws.dW.count == 0
                let partial = ws.dW.reserve(direct.partialCount), db = ws.db.reserve(o)
                ws.dW.count = direct.partialCount
                if fresh { db.update(repeating: 0, count: o) }
                let dy = dyAll + first * o * l
                direct.accumulateWeightGradient(src + first * g.inputSize, dy, into: partial, biasSums: hasBias ? db : nil,
                                                first: fresh, padded: ws.padded, work: ws.cols)
                if wantInput {
                    direct.addInputGradient(dy, weights: weights, into: dx + first * g.inputSize, rows: ws.gradientPadded, tile: ws.product)
                }
            }
            sumPartials(transposedBy: direct.positionLanes ? nil : direct.outLanes)
            return gradInput
        }
        eachShare(batch) { ws, first, n in
            let cols = ws.cols.reserve(n * patch * l), dy = ws.product.reserve(n * o * l)
            // This core's partial dW and db start at zero with its first group.
            let fresh = ws.dW.count == 0
            let dW = ws.dW.reserve(o * patch), db = ws.db.reserve(o)
            ws.dW.count = o * patch
            if fresh { db.update(repeating: 0, count: o) }
            if let done = ws.lowered, done == (current, first, n) {
                // The forward pass's columns are still there.
            } else {
                ws.lowered = nil
                for i in 0..<n { g.im2col(src + (first + i) * g.inputSize, into: cols, column: i * l, rowStride: n * l) }
            }
            // dY to [OUT, n·L], summing db on the way.
            for i in 0..<n {
                for ch in 0..<o {
                    let from = dyAll + ((first + i) * o + ch) * l, to = dy + ch * n * l + i * l
                    let s = Kernels.copySumming(from, to, l)
                    if hasBias { db[ch] += s }
                }
            }
            // dW[OUT, C·K·K] (+)= dY[OUT, n·L] · colsᵀ[n·L, C·K·K]
            BLAS.gemmOnThisThread(transA: false, transB: true, m: o, n: patch, k: n * l, a: dy, lda: n * l,
                                  b: cols, ldb: n * l, beta: fresh ? 0 : 1, c: dW, ldc: patch)
            guard wantInput else { return }
            // dcols[C·K·K, n·L] = Wᵀ[C·K·K, OUT] · dY[OUT, n·L], then back to the images.
            let dc = ws.gradColumns.reserve(n * patch * l)
            BLAS.gemmOnThisThread(transA: true, transB: false, m: patch, n: n * l, k: o, a: w, lda: patch,
                                  b: dy, ldb: n * l, beta: 0, c: dc, ldc: n * l)
            for i in 0..<n { g.col2im(dc, column: i * l, rowStride: n * l, into: dx + (first + i) * g.inputSize) }
        }
        sumPartials(transposedBy: nil)
        return gradInput
    }

    /// The cores' partial dW and db into the parameters' gradients (overwriting a cleared one);
    /// the direct path's partial dW is transposed, [tap][lanes].
    private func sumPartials(transposedBy lanes: Int?) {
        let o = outChannels, patch = geometry.patch
        let target = weight.gradientForWriting()
        var beta = target.beta
        let dst = target.tensor.data
        for ws in workspaces where ws.dW.count > 0 {
            let part = ws.dW.base!
            if let lanes {
                for oc in 0..<o {
                    for t in 0..<patch {
                        let v = part[t * lanes + oc]
                        if beta == 0 { dst[oc * patch + t] = v } else { dst[oc * patch + t] += v }
                    }
                }
            } else if beta == 0 {
                dst.update(from: part, count: o * patch)
            } else {
                for i in 0..<(o * patch) { dst[i] += part[i] }
            }
            beta = 1
            if let bias {
                let db = bias.grad.data, partB = ws.db.base!
                for ch in 0..<o { db[ch] += partB[ch] }
            }
        }
    }

    static func make(_ a: LayerArguments) throws -> Layer {
        let usage = "conv2d IN OUT K [stride=S] [padding=P] [bias=true]"
        guard a.positional.count == 3 else {
            throw EngineError("conv2d takes its input channels, output channels and kernel size: expected '\(usage)'")
        }
        let inC = try layerInt(a.positional[0], "IN", layer: "conv2d", usage: usage, min: 1)
        let outC = try layerInt(a.positional[1], "OUT", layer: "conv2d", usage: usage, min: 1)
        let k = try layerInt(a.positional[2], "kernel size", layer: "conv2d", usage: usage, min: 1, max: 1024)
        let stride = try a.options.int("stride", min: 1, max: 1024)
        let padding = try a.options.int("padding", min: 0, max: 1024)
        let (c, h, w) = try spatialShape(a.inputShape, layer: "conv2d \(inC) \(outC) \(k)")
        guard c == inC else {
            throw EngineError("conv2d \(inC) \(outC) \(k): expects \(inC) input channels, but the layer before gives \(c) (shape \(a.inputShape!))")
        }
        guard h + 2 * padding >= k, w + 2 * padding >= k else {
            throw EngineError("conv2d \(inC) \(outC) \(k): a \(k)x\(k) kernel does not fit the \(h)x\(w) input with padding \(padding)")
        }
        try checkParameterBudget(outC, inC * k * k, a)
        // Its columns' gradient (C·K·K rows, a column an output position) is a buffer too.
        let outH = (h + 2 * padding - k) / stride + 1, outW = (w + 2 * padding - k) / stride + 1
        let (columns, overflow) = (inC * k * k).multipliedReportingOverflow(by: outH * outW)
        guard !overflow, columns <= a.limits.bufferFloats else {
            throw EngineError("conv2d \(inC) \(outC) \(k): its columns (\(inC * k * k) rows of \(outH * outW) output positions) are more than the \(a.limits.bufferFloats) floats a buffer may hold")
        }
        return Conv2d(inChannels: inC, outChannels: outC, kernel: k, stride: stride, padding: padding,
                      bias: try a.options.bool("bias"), height: h, width: w, random: a.random)
    }
}
