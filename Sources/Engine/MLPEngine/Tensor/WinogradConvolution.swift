internal import CKernels

/// A 3x3 convolution with stride 1 by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray,
/// "Fast Algorithms for Convolutional Neural Networks", 2016; CKernels/winograd.c), as cuDNN,
/// NNPACK and oneDNN compute such layers. Each tile of 2x2 outputs is computed from the 4x4
/// patch under it: transformed, the patch (V = Bᵀ d B) and the kernel (U = G g Gᵀ) multiply
/// value by value, 16 products a pair of channels where the direct sum takes 36, and the
/// products are summed over the input channels as 16 matrix products, one a value:
/// M[e][o][t] = Σ_c U[e][o][c] V[e][c][t], then Y = Aᵀ M A. The products, the bulk of the work,
/// are 2.25 times fewer; the transforms are additions.
///
/// Backward is the same algorithm twice more:
/// - the input gradient is this convolution of the output gradient, bordered by 2 − padding,
///   with the kernels turned 180° and the channels swapped;
/// - the weight gradient is Gᵀ (Σ over tiles and images of (A dy Aᵀ) ⊙ V) G: the sums are 16
///   more products, of the transformed input's rows with the transformed output gradient laid
///   out by tile.
///
/// Images are transformed a group at a time (their tiles side by side, as the lanes of one
/// product), the group small enough that its transformed tiles stay in the core's L2 cache.
/// Rounding: the transforms add and halve, so the result differs from the direct sum by a few
/// float32 roundings: against the exact sum, on random 16- and 64-channel patches, the largest
/// error was 2.1e-7 and 4.2e-7 where the direct float32 sum's was 1.1e-7 and 3.9e-7 (outputs of
/// about 0.5). F(4x4, 3x3), 4 times fewer products, erred by 3.5e-6 and 6.2e-6: not used.
struct WinogradConvolution {
    /// One direction of the algorithm: planes [inChannels, inHeight, inWidth], bordered by
    /// `pad` zeros, convolved to planes [outChannels, outHeight, outWidth].
    struct Plan {
        let inChannels: Int, inHeight: Int, inWidth: Int, pad: Int
        let outChannels: Int, outHeight: Int, outWidth: Int
        /// Tiles of 2x2 outputs an image.
        let tilesHigh: Int, tilesWide: Int
        /// The bordered input: rows of `rowStride` (the tiles' patches reach 2 past the last
        /// tile), planes of `plane`, with 16 floats to spare after the last.
        let rowStride: Int, plane: Int, borderedCount: Int

        init(channels: Int, height: Int, width: Int, pad: Int, outChannels: Int) {
            inChannels = channels
            inHeight = height
            inWidth = width
            self.pad = pad
            self.outChannels = outChannels
            outHeight = height + 2 * pad - 2
            outWidth = width + 2 * pad - 2
            tilesHigh = (outHeight + 1) / 2
            tilesWide = (outWidth + 1) / 2
            rowStride = 2 * tilesWide + 2
            plane = (2 * tilesHigh + 2) * rowStride
            borderedCount = channels * plane + 16
        }
        var tiles: Int { tilesHigh * tilesWide }
        var inputSize: Int { inChannels * inHeight * inWidth }
        var outputSize: Int { outChannels * outHeight * outWidth }
    }

    let forwardPlan: Plan, inputGradientPlan: Plan
    /// Images transformed together.
    let group: Int
    /// Lanes of a transformed row: a group's tiles side by side, rounded up to vectors, and a
    /// vector to spare for the tile loops' overrun.
    let lanes: Int
    /// The products' operand tables (see mlpsh_gather_gemm): rows of the
    /// transformed weights, indices of channels, and rows of transformed tiles, for C input
    /// and O output channels.
    private let weightRowsByOutput: [Int32], weightRowsByInput: [Int32], inputIndex: [Int32], outputIndex: [Int32]
    private let inputLaneRows: [Int32], outputLaneRows: [Int32]
    /// Tiles' indices, and their rows in the transformed output gradient.
    private let tileIndex: [Int32], tileRows: [Int32]

    /// At most this many floats of transformed tiles a buffer (256 KB): a group's inputs, products
    /// and gradients stay in L2 between the transforms and the products.
    static let groupBudget = 1 << 16
    /// The most floats of transformed tiles a buffer may hold (16 MB).
    static let largestBuffer = 1 << 22
    /// The smallest channel counts it is used for: with fewer, the products are too thin to
    /// gain from (the direct kernels take them).
    static let minimumChannels = 8

    /// nil unless the convolution is 3x3 with stride 1, padding at most 2 alike on every side,
    /// undilated, and has at least `minimumChannels` on each side.
    init?(_ g: ConvGeometry, outChannels o: Int) {
        guard g.isSquare, g.kernel == 3, g.stride == 1, g.padding <= 2,
              g.channels >= Self.minimumChannels, o >= Self.minimumChannels else { return nil }
        let c = g.channels
        forwardPlan = Plan(channels: c, height: g.height, width: g.width, pad: g.padding, outChannels: o)
        inputGradientPlan = Plan(channels: o, height: g.outputHeight, width: g.outputWidth, pad: 2 - g.padding, outChannels: c)
        let tiles = max(forwardPlan.tiles, inputGradientPlan.tiles)
        group = max(1, Self.groupBudget / (16 * max(c, o) * tiles))
        let ldv = (group * tiles + 7) / 8 * 8 + 8
        // An image so large that its transformed tiles would take more than 16 MB a buffer
        // goes to the direct kernels, whose buffers are the size of the image.
        guard 16 * max(c, o + 7) * ldv <= Self.largestBuffer else { return nil }
        lanes = ldv
        weightRowsByOutput = (0..<o).map { Int32($0 * c) }
        weightRowsByInput = (0..<c).map { Int32($0 * o) }
        inputIndex = (0..<c).map { Int32($0) }
        outputIndex = (0..<o).map { Int32($0) }
        inputLaneRows = (0..<c).map { Int32($0 * ldv) }
        outputLaneRows = (0..<o).map { Int32($0 * ldv) }
        tileIndex = (0..<ldv).map { Int32($0) }
        tileRows = (0..<ldv).map { Int32($0 * ((o + 7) / 8 * 8)) }
    }

    var inChannels: Int { forwardPlan.inChannels }
    var outChannels: Int { forwardPlan.outChannels }
    /// Output channels rounded up to vectors: the transformed output gradient's rows.
    var outLanes: Int { (outChannels + 7) / 8 * 8 }
    /// Floats of one core's partial weight-gradient sums, z[e][c][outLanes].
    var partialCount: Int { 16 * inChannels * outLanes }

    /// The transformed weights: for the forward pass, or (`flipped`) for the input gradient.
    func transformedWeights(_ w: UnsafePointer<Float>, flipped: Bool, _ scratch: Scratch) -> UnsafePointer<Float> {
        let u = scratch.reserve(16 * outChannels * inChannels)
        mlpsh_winograd_weights(w, Int32(outChannels), Int32(inChannels), flipped ? 1 : 0, u)
        return UnsafePointer(u)
    }

    /// The forward pass of `count` images (at most `group`) from x into y.
    func forward(_ x: UnsafePointer<Float>, count: Int, weights u: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                 into y: UnsafeMutablePointer<Float>, space: Space) {
        convolve(forwardPlan, x, count: count, weights: u, weightRows: weightRowsByOutput, index: inputIndex,
                 laneRows: inputLaneRows, bias: bias, into: y, bordered: space.bordered, space: space)
    }

    /// Backward for `count` images: adds their weight-gradient sums into `partial` (overwriting
    /// it when `first`) and their output gradient's channel sums into `biasSums`; writes their
    /// input gradient into dx when given (`flipped` the weights for it).
    func backward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, count n: Int, flipped: UnsafePointer<Float>,
                  partial: UnsafeMutablePointer<Float>, first: Bool, biasSums: UnsafeMutablePointer<Float>?,
                  inputGradient dx: UnsafeMutablePointer<Float>?, space: Space) {
        let p = forwardPlan, c = inChannels, o = outChannels, ldv = lanes, ol = outLanes
        let v = transformInputs(p, x, count: n, bordered: space.bordered, into: space.inputs)
        let g = space.gradients.reserve(16 * ldv * ol), work = space.transposed.reserve(p.outHeight * p.outWidth * ol)
        for i in 0..<n {
            mlpsh_winograd_gradient(dy + i * p.outputSize, Int32(o), Int32(p.outHeight), Int32(p.outWidth), Int32(p.tilesHigh),
                                    Int32(p.tilesWide), work, g + i * p.tiles * ol, Int64(ol), Int64(ldv * ol), biasSums)
        }
        // z[e][c][o] (+)= Σ_t V[e][c][t] g[e][t][o]: rows of V against the tiles' rows of g. (The
        // products of the passes sum over the channels, few, in blocks of 4 rows by 3 vectors,
        // which waste no rows for 16, 32 or 64 channels; these sum over the tiles, many.)
        for e in 0..<16 {
            mlpsh_gather_gemm(v + e * c * ldv, inputLaneRows, Int32(c), tileIndex, Int32(n * p.tiles), g + e * ldv * ol, tileRows,
                              Int32(ol / 8), partial + e * c * ol, Int64(ol), first ? 0 : 1)
        }
        guard let dx else { return }
        convolve(inputGradientPlan, dy, count: n, weights: flipped, weightRows: weightRowsByInput, index: outputIndex,
                 laneRows: outputLaneRows, bias: nil, into: dx, bordered: space.gradientBordered, space: space)
    }

    /// The weight gradient [O, C, 3, 3] from the summed partials (added into dw when `accumulate`).
    func weightGradient(_ z: UnsafePointer<Float>, into dw: UnsafeMutablePointer<Float>, accumulate: Bool) {
        mlpsh_winograd_weight_gradient(z, Int32(outChannels), Int32(inChannels), Int64(outLanes), dw, accumulate ? 1 : 0)
    }

    /// One core's buffers: the bordered inputs of the two plans (each keeps its border at zero),
    /// the transformed tiles, the products, and the output gradient with channels last and
    /// transformed.
    final class Space {
        let bordered = Scratch(), gradientBordered = Scratch(), inputs = Scratch(), products = Scratch()
        let transposed = Scratch(), gradients = Scratch()
    }

    /// The transformed tiles of `count` images, side by side.
    private func transformInputs(_ p: Plan, _ x: UnsafePointer<Float>, count n: Int, bordered: Scratch,
                                 into scratch: Scratch) -> UnsafeMutablePointer<Float> {
        let xp = bordered.reserve(p.borderedCount), v = scratch.reserve(16 * max(inChannels, outChannels) * lanes)
        for i in 0..<n {
            mlpsh_border_copy(x + i * p.inputSize, Int32(p.inChannels), Int32(p.inHeight), Int32(p.inWidth), Int32(p.pad), Int32(p.pad),
                              Int32(p.rowStride), Int64(p.plane), xp)
            mlpsh_winograd_input(xp, Int32(p.inChannels), Int64(p.plane), Int32(p.rowStride), Int32(p.tilesHigh), Int32(p.tilesWide),
                                 v + i * p.tiles, Int64(lanes), Int64(p.inChannels * lanes))
        }
        return v
    }

    private func convolve(_ p: Plan, _ x: UnsafePointer<Float>, count n: Int, weights u: UnsafePointer<Float>, weightRows: [Int32],
                          index: [Int32], laneRows: [Int32], bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>,
                          bordered: Scratch, space: Space) {
        let ci = p.inChannels, co = p.outChannels, ldv = lanes
        let v = transformInputs(p, x, count: n, bordered: bordered, into: space.inputs)
        let m = space.products.reserve(16 * max(inChannels, outChannels) * ldv), vectors = (n * p.tiles + 7) / 8
        for e in 0..<16 {
            mlpsh_gather_gemm4(u + e * co * ci, weightRows, Int32(co), index, Int32(ci), v + e * ci * ldv, laneRows, Int32(vectors),
                               m + e * co * ldv, Int64(ldv), 0)
        }
        for i in 0..<n {
            mlpsh_winograd_output(m + i * p.tiles, Int64(ldv), Int64(co * ldv), Int32(co), Int32(p.tilesHigh), Int32(p.tilesWide),
                                  Int32(p.outHeight), Int32(p.outWidth), bias, y + i * p.outputSize)
        }
    }
}
