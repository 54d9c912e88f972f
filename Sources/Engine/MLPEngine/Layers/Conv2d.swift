/// How a convolution is computed: Winograd's F(2x2, 3x3), the direct kernels, or lowered to
/// columns and multiplied by sgemm.
public enum ConvAlgorithm: String, CaseIterable, Sendable {
    case winograd, direct, im2col
}

/// nn.Conv2d: y[b, o] = Σ_c W[o, c] ⋆ x[b, c] + bias[o], W [OUT, IN/G, KH, KW], initialised
/// as PyTorch's (kaiming_uniform_(a=√5) on W, bias uniform(±1/√fan_in), fan_in = IN/G·KH·KW).
/// With G groups, output channels o of group g = o / (OUT/G) see only input channels of
/// group g (G = IN = OUT is a depthwise convolution).
///
/// Computed directly by SIMD kernels (DirectConvolution). Each core takes a contiguous share of
/// the batch through the whole layer (its own partial dW), so a pass has one barrier: the work
/// of a layer this small gains little from being split otherwise.
///
/// A 3x3 layer with stride 1 and at least 8 channels each side (most of a ResNet) is computed by
/// Winograd's F(2x2, 3x3) instead (WinogradConvolution): 2.25 times fewer products.
///
/// The earlier way stays for comparison (`algorithm`, `bench layers conv=im2col`) and for
/// layers too large for the kernels' 32-bit offsets: lowered to matrix products (Caffe's
/// im2col), a group of images' patches become the columns of one [IN·K·K, G·L] matrix (L output
/// positions an image), and W[OUT, IN·K·K] · cols is every output of the group in one
/// cblas_sgemm; backward is two more products, dW += dY · colsᵀ and dcols = Wᵀ · dY, then col2im.
public final class Conv2d: Layer {
    public let name = "conv2d"
    public let geometry: ConvGeometry
    public let outChannels: Int
    public let groups: Int
    /// How the layer was asked to pad: "same", or nil for the numbers in its geometry.
    private let paddingWord: String?
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
        /// The Winograd path's buffers.
        let winograd = WinogradConvolution.Space()
        /// The images (first, count) whose columns `cols` holds from the last forward pass.
        var lowered: (pass: Int, first: Int, count: Int)?
    }
    /// Counts forward passes, so backward knows whether the columns are of its input.
    private var pass = 0
    /// Computed directly (DirectConvolution); through columns only when its offsets would
    /// not fit 32 bits. Its tables (an offset an output position) are made at the first pass,
    /// not when the layer is built.
    private lazy var direct: DirectConvolution? = groups == 1 ? DirectConvolution(geometry, outChannels: outChannels) : nil
    /// Computed by Winograd's F(2x2, 3x3) when the layer is one it takes (see its init).
    private lazy var winograd: WinogradConvolution? = groups == 1 ? WinogradConvolution(geometry, outChannels: outChannels) : nil
    /// How to compute the layer; nil for the fastest way it has (Winograd, else the direct
    /// kernels, else columns). One the layer cannot take falls back the same way. Set between
    /// training steps (`bench layers conv=` compares them).
    public var algorithm: ConvAlgorithm?
    /// The weights as the direct forward kernel or Winograd's forward pass reads them, and
    /// Winograd's for the input gradient.
    private let forwardWeights = Scratch(), flippedWeights = Scratch()

    /// The way the next pass computes the layer.
    public var algorithmInUse: ConvAlgorithm {
        switch algorithm {
        case .im2col?: return .im2col
        case .direct?: return direct != nil ? .direct : .im2col
        case .winograd?, nil: return winograd != nil ? .winograd : direct != nil ? .direct : .im2col
        }
    }

    public convenience init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                            bias: Bool = true, height: Int, width: Int, random: RandomGenerator) {
        self.init(ConvGeometry(channels: inChannels, height: height, width: width, kernel: kernel, stride: stride, padding: padding),
                  outChannels: outChannels, groups: 1, bias: bias, random: random)
    }

    /// `paddingWord` "same" when the padding was asked for as `padding=same`.
    public init(_ geometry: ConvGeometry, outChannels: Int, groups: Int, bias: Bool = true, paddingWord: String? = nil,
                random: RandomGenerator) {
        self.geometry = geometry
        self.outChannels = outChannels
        self.groups = groups
        self.paddingWord = paddingWord
        weight = Parameter(name: "weight", shape: [outChannels, geometry.channels / groups, geometry.kernelHeight, geometry.kernelWidth])
        self.bias = bias ? Parameter(name: "bias", shape: [outChannels]) : nil
        Initializer.pytorchDefault(weight: weight, bias: self.bias, random: random)
    }

    public var spec: Spec {
        let g = geometry
        var options: [(key: String, value: String)] = []
        if g.strideHeight != 1 || g.strideWidth != 1 { options.append(("stride", pair(g.strideHeight, g.strideWidth))) }
        if let paddingWord {
            options.append(("padding", paddingWord))
        } else if g.padTop != 0 || g.padLeft != 0 {
            options.append(("padding", pair(g.padTop, g.padLeft)))
        }
        if g.dilationHeight != 1 || g.dilationWidth != 1 { options.append(("dilation", pair(g.dilationHeight, g.dilationWidth))) }
        if groups != 1 { options.append(("groups", String(groups))) }
        if bias == nil { options.append(("bias", "false")) }
        return Spec(name, args: [String(g.channels), String(outChannels), pair(g.kernelHeight, g.kernelWidth)], options: options)
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
        let out = output.data, w = weight.value.data, b = bias?.value.data, src = x.data, groups = groups
        let algorithm = algorithmInUse
        if algorithm == .winograd, let winograd {
            let u = winograd.transformedWeights(w, flipped: false, forwardWeights), bias = b.map { UnsafePointer($0) }
            eachShare(batch, group: winograd.group) { ws, first, n in
                winograd.forward(src + first * g.inputSize, count: n, weights: u, bias: bias, into: out + first * o * l, space: ws.winograd)
            }
            return output
        }
        if algorithm == .direct, let direct {
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
            // y[OUT, n·L] = W[OUT, C·K·K] · cols[C·K·K, n·L], a product a group of channels.
            let og = o / groups, pg = g.patch / groups
            for gi in 0..<groups {
                BLAS.gemmOnThisThread(transA: false, transB: false, m: og, n: n * l, k: pg, a: w + gi * og * pg, lda: pg,
                                      b: cols + gi * pg * n * l, ldb: n * l, beta: 0, c: y + gi * og * n * l, ldc: n * l)
            }
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
        let wantInput = needsInputGradient, hasBias = bias != nil, algorithm = algorithmInUse
        if wantInput {
            gradInput.reshape(x.shape)
            // Winograd writes every value; the direct kernels clear each image's as they come to
            // it (on its core, the cache warm for the sums into it); columns add into it whole.
            if algorithm == .im2col { gradInput.fill(0) }
        }
        let w = weight.value.data, dx = gradInput.data, src = x.data, dyAll = gy.data
        let patch = g.patch, current = pass, groups = groups
        for ws in workspaces { ws.dW.count = 0 }
        if algorithm == .winograd, let winograd {
            let flipped = winograd.transformedWeights(w, flipped: true, flippedWeights)
            eachShare(batch, group: winograd.group) { ws, first, n in
                let fresh = ws.dW.count == 0
                let partial = ws.dW.reserve(winograd.partialCount), db = ws.db.reserve(o)
                ws.dW.count = winograd.partialCount
                if fresh { db.update(repeating: 0, count: o) }
                winograd.backward(src + first * g.inputSize, dyAll + first * o * l, count: n, flipped: flipped, partial: partial,
                                  first: fresh, biasSums: hasBias ? db : nil, inputGradient: wantInput ? dx + first * g.inputSize : nil,
                                  space: ws.winograd)
            }
            sumPartials(.winograd(winograd))
            return gradInput
        }
        if algorithm == .direct, let direct {
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
                    (dx + first * g.inputSize).update(repeating: 0, count: g.inputSize)
                    direct.addInputGradient(dy, weights: weights, into: dx + first * g.inputSize, rows: ws.gradientPadded, tile: ws.product)
                }
            }
            sumPartials(direct.positionLanes ? .plain : .transposed(lanes: direct.outLanes))
            return gradInput
        }
        eachShare(batch) { ws, first, n in
            let cols = ws.cols.reserve(n * patch * l), dy = ws.product.reserve(n * o * l)
            // This core's partial dW and db start at zero with its first group.
            let fresh = ws.dW.count == 0
            let og = o / groups, pg = patch / groups
            let dW = ws.dW.reserve(o * pg), db = ws.db.reserve(o)
            ws.dW.count = o * pg
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
            // dW[OUT, C·K·K] (+)= dY[OUT, n·L] · colsᵀ[n·L, C·K·K], a group at a time.
            for gi in 0..<groups {
                BLAS.gemmOnThisThread(transA: false, transB: true, m: og, n: pg, k: n * l, a: dy + gi * og * n * l, lda: n * l,
                                      b: cols + gi * pg * n * l, ldb: n * l, beta: fresh ? 0 : 1, c: dW + gi * og * pg, ldc: pg)
            }
            guard wantInput else { return }
            // dcols[C·K·K, n·L] = Wᵀ[C·K·K, OUT] · dY[OUT, n·L], then back to the images.
            let dc = ws.gradColumns.reserve(n * patch * l)
            for gi in 0..<groups {
                BLAS.gemmOnThisThread(transA: true, transB: false, m: pg, n: n * l, k: og, a: w + gi * og * pg, lda: pg,
                                      b: dy + gi * og * n * l, ldb: n * l, beta: 0, c: dc + gi * pg * n * l, ldc: n * l)
            }
            for i in 0..<n { g.col2im(dc, column: i * l, rowStride: n * l, into: dx + (first + i) * g.inputSize) }
        }
        sumPartials(.plain)
        return gradInput
    }

    /// How the cores' partial weight gradients are laid out: [O][taps] as dW, [tap][lanes] (the
    /// direct path's channel lanes), or Winograd's transformed sums.
    private enum Partials {
        case plain, transposed(lanes: Int), winograd(WinogradConvolution)
    }

    /// The cores' partial dW and db into the parameters' gradients (overwriting a cleared one).
    private func sumPartials(_ layout: Partials) {
        let o = outChannels, patch = geometry.patch / groups
        let target = weight.gradientForWriting()
        var beta = target.beta
        let dst = target.tensor.data
        let filled = workspaces.filter { $0.dW.count > 0 }
        if case .winograd(let winograd) = layout, let into = filled.first?.dW.base {
            // The sums are linear in dW: added up first, transformed once.
            for ws in filled.dropFirst() {
                let part = ws.dW.base!
                for i in 0..<winograd.partialCount { into[i] += part[i] }
            }
            winograd.weightGradient(into, into: dst, accumulate: beta != 0)
        }
        for ws in filled {
            let part = ws.dW.base!
            switch layout {
            case .winograd: break
            case .transposed(let lanes):
                for oc in 0..<o {
                    for t in 0..<patch {
                        let v = part[t * lanes + oc]
                        if beta == 0 { dst[oc * patch + t] = v } else { dst[oc * patch + t] += v }
                    }
                }
            case .plain where beta == 0:
                dst.update(from: part, count: o * patch)
            case .plain:
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
        let usage = "conv2d IN OUT K [stride=S] [padding=P|same] [dilation=D] [groups=G] [bias=true]"
        guard a.positional.count == 3 else {
            throw EngineError("conv2d takes its input channels, output channels and kernel size: expected '\(usage)'")
        }
        let inC = try layerInt(a.positional[0], "IN", layer: "conv2d", usage: usage, min: 1)
        let outC = try layerInt(a.positional[1], "OUT", layer: "conv2d", usage: usage, min: 1)
        let k = try layerPair(a.positional[2], "kernel size", layer: "conv2d", usage: usage, min: 1, max: 1024)
        let stride = try layerPair(a.options.string("stride"), "stride", layer: "conv2d", usage: usage, min: 1, max: 1024)
        let dilation = try layerPair(a.options.string("dilation"), "dilation", layer: "conv2d", usage: usage, min: 1, max: 1024)
        let groups = try a.options.int("groups", min: 1, max: 1 << 16)
        let name = "conv2d \(a.positional.joined(separator: " "))"
        guard inC % groups == 0, outC % groups == 0 else {
            throw EngineError("\(name): groups=\(groups) must divide both IN (\(inC)) and OUT (\(outC)), as in nn.Conv2d")
        }
        let (c, h, w) = try spatialShape(a.inputShape, layer: name)
        guard c == inC else {
            throw EngineError("\(name): expects \(inC) input channels, but the layer before gives \(c) (shape \(a.inputShape!))")
        }
        // padding=same: D·(K−1) zeros in all, the odd one after, as PyTorch (stride 1 only).
        let word = a.options.string("padding")
        let pads: (top: Int, left: Int, bottom: Int, right: Int)
        if word == "same" {
            guard stride == (1, 1) else { throw EngineError("\(name): padding=same needs stride=1, as in nn.Conv2d") }
            let th = dilation.0 * (k.0 - 1), tw = dilation.1 * (k.1 - 1)
            pads = (th / 2, tw / 2, th - th / 2, tw - tw / 2)
        } else {
            let p = try layerPair(word, "padding", layer: "conv2d", usage: usage, min: 0, max: 1024)
            pads = (p.0, p.1, p.0, p.1)
        }
        guard h + pads.top + pads.bottom >= dilation.0 * (k.0 - 1) + 1, w + pads.left + pads.right >= dilation.1 * (k.1 - 1) + 1 else {
            throw EngineError("\(name): a \(k.0)x\(k.1) kernel\(dilation == (1, 1) ? "" : " dilated \(dilation.0),\(dilation.1)") does not fit the \(h)x\(w) input with padding \(word)")
        }
        let (taps, tapOverflow) = k.0.multipliedReportingOverflow(by: k.1)
        guard !tapOverflow else { throw EngineError("\(name): the kernel is too large") }
        try checkParameterBudget(outC, inC / groups * taps, a)
        let g = ConvGeometry(channels: inC, height: h, width: w, kernel: k, stride: stride, padding: pads, dilation: dilation)
        // Its columns' gradient (C·KH·KW rows, a column an output position) is a buffer too.
        let (columns, overflow) = (inC * taps).multipliedReportingOverflow(by: g.positions)
        guard !overflow, columns <= a.limits.bufferFloats else {
            throw EngineError("\(name): its columns (\(inC * taps) rows of \(g.positions) output positions) are more than the \(a.limits.bufferFloats) floats a buffer may hold")
        }
        return Conv2d(g, outChannels: outC, groups: groups, bias: try a.options.bool("bias"),
                      paddingWord: word == "same" ? "same" : nil, random: a.random)
    }
}

// MARK: - Its registry entry

extension Conv2d {
    public static let entry = RegistryEntry<LayerFactory>(name: "conv2d", summary: "2-D convolution over images [C, H, W] (nn.Conv2d)",
            usage: "IN OUT K", options: [OptionSpec("stride", "1", "step between windows: N, or H,W"),
                                          OptionSpec("padding", "0", "zeros added on each side: N, H,W, or same (stride 1)"),
                                          OptionSpec("dilation", "1", "spacing between kernel taps: N, or H,W"),
                                          OptionSpec("groups", "1", "channel groups: IN and OUT split in G (G = IN = OUT: depthwise)"),
                                          OptionSpec("bias", "true", "add a bias per output channel")],
            details: "K is N or H,W. W is [OUT, IN/G, KH, KW] and b is [OUT], initialised as PyTorch's (uniform,\nfan_in = IN/G·KH·KW). The output is [OUT, (H + 2·PH − DH·(KH−1) − 1)/SH + 1, (W + ...)/SW + 1];\npadding=same keeps H and W (the odd zero after, as PyTorch). Square, undilated, ungrouped layers\nrun on direct SIMD kernels; the others are lowered to matrix products (im2col).",
            example: "conv2d 1 6 5 padding=2", make: Conv2d.make)
}
