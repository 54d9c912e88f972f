internal import CKernels

/// A convolution computed directly, without lowering to columns, by SIMD kernels that keep 12
/// accumulators of 8 floats in registers (CKernels/conv.c). The input is read through its
/// zero-bordered copy, at `window start of the position + offset of the tap`, where a tap is
/// one (channel, kernel row, kernel column).
///
/// Two layouts, chosen by the number of output channels O:
/// - **channel lanes** (O a multiple of 8, or 16 and more): each output position's O sums are
///   vectors, against the weights transposed to [tap][O]; the weight gradient is the same
///   kernel with positions and taps swapped, against the output gradient transposed.
/// - **position lanes** (stride 1 and few channels, as LeNet's 6): 8 neighbouring positions are
///   a vector, reading the bordered input's rows whole ("wide" rows, whose last K − 1 columns are
///   computed and dropped); the weight gradient is dot products of the output gradient's wide
///   rows with the input's.
/// The input gradient is the columns' gradient, dcols[tap][q] = Σ_o W[o][tap] dy[o][q] (positions
/// as lanes), added back into the image by col2im.
///
/// Lowering to columns (im2col + sgemm) spent most of LeNet's time copying: the columns are K²
/// times the input and sgemm packs them again, and with 6 or 16 output channels the product is
/// too thin for sgemm's kernels. Measured on LeNet-5 in scripts/bench (see the README).
struct DirectConvolution {
    let geometry: ConvGeometry
    let outChannels: Int
    /// Output channels rounded up to whole 8-float vectors (channel lanes).
    let outLanes: Int
    /// Whether 8 neighbouring positions are a vector (else 8 channels are).
    let positionLanes: Bool
    /// The bordered input: rows of `paddedWidth`, planes of `paddedPlane`, with room after
    /// the last plane for the wide rows' overrun.
    let paddedWidth: Int, paddedPlane: Int, paddedCount: Int
    /// Where each output position's window starts in the bordered input, and each tap's offset.
    let rowBase: [Int32], taps: [Int32]
    /// Position lanes: output rows as wide as the bordered input, rounded up to vectors.
    let wideCount: Int
    /// Tables of the kernels' other operands: weight rows by channel (position lanes), the
    /// transposed weights' and gradient's rows (channel lanes), the weights by tap and the
    /// output gradient's rows (input gradient).
    let channelRows: [Int32], tapIndex: [Int32], tapRows: [Int32], positionRows: [Int32]
    let weightColumns: [Int32], gradientRows: [Int32], wideRows: [Int32]
    /// The output gradient's rows rounded up to vectors, for the input gradient.
    let gradientWidth: Int

    /// nil when an offset would not fit in Int32, or the geometry is not square (see
    /// ConvGeometry.isSquare): those go through columns.
    init?(_ g: ConvGeometry, outChannels o: Int) {
        guard g.isSquare else { return nil }
        let k = g.kernel, s = g.stride
        let pw = g.width + 2 * g.padding, plane = (g.height + 2 * g.padding) * pw
        let wide = (g.outputHeight * pw + 7) / 8 * 8
        let count = g.channels * plane + k * pw + 8
        guard count < Int(Int32.max) / 2, o * g.patch < Int(Int32.max) / 2, o * (g.positions + 8) < Int(Int32.max) / 2 else { return nil }
        geometry = g
        outChannels = o
        outLanes = (o + 7) / 8 * 8
        positionLanes = s == 1 && o % 8 != 0 && o < 16
        paddedWidth = pw
        paddedPlane = plane
        paddedCount = count
        wideCount = wide
        rowBase = (0..<g.outputHeight).flatMap { y in (0..<g.outputWidth).map { x in Int32(y * s * pw + x * s) } }
        taps = (0..<g.channels).flatMap { c in (0..<k).flatMap { ky in (0..<k).map { kx in Int32(c * plane + ky * pw + kx) } } }
        channelRows = (0..<o).map { Int32($0 * g.patch) }
        tapIndex = (0..<g.patch).map { Int32($0) }
        tapRows = (0..<g.patch).map { Int32($0 * ((o + 7) / 8 * 8)) }
        positionRows = (0..<g.positions).map { Int32($0 * ((o + 7) / 8 * 8)) }
        gradientWidth = (g.positions + 7) / 8 * 8
        weightColumns = (0..<o).map { Int32($0 * g.patch) }
        gradientRows = (0..<o).map { Int32($0 * ((g.positions + 7) / 8 * 8)) }
        wideRows = (0..<o).map { Int32($0 * wide) }
    }

    /// The weights as the forward kernel reads them: [O][taps] as they are (position lanes),
    /// or transposed to [tap][outLanes], zero past O (channel lanes).
    func forwardWeights(_ w: UnsafePointer<Float>, _ scratch: Scratch) -> UnsafePointer<Float> {
        guard !positionLanes else { return w }
        let n = geometry.patch, wt = scratch.reserve(n * outLanes)
        wt.update(repeating: 0, count: n * outLanes)
        for oc in 0..<outChannels { for t in 0..<n { wt[t * outLanes + oc] = w[oc * n + t] } }
        return UnsafePointer(wt)
    }

    /// The input image as the kernels read it: copied into the interior of `padded` (whose
    /// border and overrun stay zero).
    private func bordered(_ x: UnsafePointer<Float>, _ padded: Scratch) -> UnsafePointer<Float> {
        let g = geometry, p = padded.reserve(paddedCount)
        mlpsh_pad_copy(x, Int32(g.channels), Int32(g.height), Int32(g.width), Int32(g.padding), p)
        return UnsafePointer(p)
    }

    /// y[o][q] = bias[o] + Σ_tap x[window(q) + tap] w[o][tap] for one image.
    func forward(_ x: UnsafePointer<Float>, weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 into y: UnsafeMutablePointer<Float>, padded: Scratch, tile: Scratch) {
        let g = geometry, o = outChannels, xp = bordered(x, padded)
        if positionLanes {
            let t = tile.reserve(o * wideCount)
            mlpsh_gather_gemm(weights, channelRows, Int32(o), tapIndex, Int32(g.patch), xp, taps,
                              Int32(wideCount / 8), t, Int64(wideCount), 0)
            mlpsh_compact_rows(t, Int64(wideCount), Int32(o), Int32(g.outputHeight), Int32(paddedWidth), Int32(g.outputWidth), bias, y)
        } else {
            let l = g.positions, t = tile.reserve(l * outLanes)
            mlpsh_gather_gemm(xp, rowBase, Int32(l), taps, Int32(g.patch), weights, tapRows,
                              Int32(outLanes / 8), t, Int64(outLanes), 0)
            mlpsh_transpose_out(t, Int64(outLanes), Int32(l), Int32(o), bias, y)
        }
    }

    /// Floats of one core's partial weight gradient, and whether it is [O][taps] (else
    /// [tap][outLanes]).
    var partialCount: Int { positionLanes ? outChannels * geometry.patch : geometry.patch * outLanes }

    /// Adds one image's weight gradient, dW[o][tap] += Σ_q dy[o][q] x[window(q) + tap], into
    /// `partial` (overwriting it when `first`), and its bias gradient Σ_q dy[o][q] into `biasSums`.
    func accumulateWeightGradient(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, into partial: UnsafeMutablePointer<Float>,
                                  biasSums: UnsafeMutablePointer<Float>?, first: Bool, padded: Scratch, work: Scratch) {
        let g = geometry, o = outChannels, l = g.positions, xp = bordered(x, padded)
        if positionLanes {
            // dy in wide rows, zero in the columns the forward pass dropped.
            let wide = work.reserve(o * wideCount)
            mlpsh_widen_rows(dy, Int32(o), Int32(g.outputHeight), Int32(g.outputWidth), Int32(paddedWidth), Int64(wideCount), wide, biasSums)
            mlpsh_dot_rows(wide, wideRows, Int32(o), xp, taps, Int32(g.patch), Int32(wideCount / 8), partial, Int64(g.patch), first ? 0 : 1)
        } else {
            let d = work.reserve(l * outLanes)
            mlpsh_transpose_in(dy, Int32(l), Int32(o), d, Int64(outLanes), biasSums)
            mlpsh_gather_gemm(xp, taps, Int32(g.patch), rowBase, Int32(l), d, positionRows,
                              Int32(outLanes / 8), partial, Int64(outLanes), first ? 0 : 1)
        }
    }

    /// Adds one image's input gradient into dx: dcols[tap][q] = Σ_o w[o][tap] dy[o][q], then col2im.
    func addInputGradient(_ dy: UnsafePointer<Float>, weights w: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>,
                          rows: Scratch, tile: Scratch) {
        let g = geometry, o = outChannels, l = g.positions, gw = gradientWidth
        let d = rows.reserve(o * gw)
        for oc in 0..<o {
            (d + oc * gw).update(from: dy + oc * l, count: l)
            (d + oc * gw + l).update(repeating: 0, count: gw - l)
        }
        // 16 floats of margin before and after, which col2im reads (and masks).
        let t = tile.reserve(g.patch * gw + 32) + 16
        mlpsh_gather_gemm(w, tapIndex, Int32(g.patch), weightColumns, Int32(o), d, gradientRows, Int32(gw / 8), t, Int64(gw), 0)
        mlpsh_col2im(t, Int64(gw), Int32(g.channels), Int32(g.height), Int32(g.width), Int32(g.kernel), Int32(g.stride),
                     Int32(g.padding), Int32(g.outputHeight), Int32(g.outputWidth), dx)
    }
}
