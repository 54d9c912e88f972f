import Foundation

/// Measures a model's training step against the matrix products it is made of, run alone:
/// the share of the GEMM rate the whole step achieves (bias, activations, loss, update and
/// the calls between them are the difference).
public enum Benchmark {
    /// One cblas_sgemm call of a training step: C[m,n] = op(A) op(B).
    public struct Gemm {
        public let m: Int, n: Int, k: Int
        public let transA: Bool, transB: Bool
        /// Whether it is part of the forward pass (the work a test pass does too).
        public var isForward = false
        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
    }

    /// The products a training step of `model` at batch `batch` makes: for each linear layer,
    /// forward, the weight gradient, and the input gradient except for the first layer; for
    /// each convolution the same three as products of its lowered columns (the arithmetic a
    /// direct convolution does too).
    public static func gemms(_ model: Sequential, batch: Int) -> [Gemm] {
        var forward: [Gemm] = [], backward: [Gemm] = []
        for layer in model.allLayers {
            if let l = layer as? Linear {
                forward.append(Gemm(m: batch, n: l.outputWidth, k: l.inputWidth, transA: false, transB: true, isForward: true))
                backward.append(Gemm(m: l.outputWidth, n: l.inputWidth, k: batch, transA: true, transB: false))
                if l.needsInputGradient {
                    backward.append(Gemm(m: batch, n: l.inputWidth, k: l.outputWidth, transA: false, transB: false))
                }
            } else if let c = layer as? Conv2d {
                // With groups, G products of 1/G the depth: counted as one of the same work.
                let g = c.geometry, o = c.outChannels, columns = batch * g.positions, patch = g.patch / c.groups
                forward.append(Gemm(m: o, n: columns, k: patch, transA: false, transB: false, isForward: true))
                backward.append(Gemm(m: o, n: patch, k: columns, transA: false, transB: true))
                if c.needsInputGradient {
                    backward.append(Gemm(m: patch, n: columns, k: o, transA: true, transB: false))
                }
            }
        }
        return forward + backward
    }

    /// cblas_sgemm's rate on two n x n matrices on `threads` of OpenBLAS's threads, in GFLOP/s
    /// (the best of `repeats`): the CPU's practical peak, which other rates are measured against.
    public static func sgemmPeak(size n: Int, threads: Int, repeats: Int = 5, shouldStop: () -> Bool = { false }) throws -> Double {
        let a = UnsafeMutablePointer<Float>.allocate(capacity: n * n), b = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        for i in 0..<(n * n) { a[i] = Float(i % 7) * 0.01; b[i] = Float(i % 5) * 0.01; c[i] = 0 }
        var best = Double.infinity
        for i in 0...max(repeats, 1) {
            let start = DispatchTime.now().uptimeNanoseconds
            BLAS.openBLASGemm(threads: threads, transA: false, transB: false, m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: c, ldc: n)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            if i > 0 { best = min(best, seconds) }  // the first warms up OpenBLAS's threads
            if shouldStop() { throw EngineError("bench: interrupted; nothing was measured") }
        }
        return 2 * Double(n) * Double(n) * Double(n) / best / 1e9
    }

    /// Seconds a step for the products alone, on buffers sized like the real ones (the median
    /// of `repeats` timings of `steps` steps each): as the engine runs them (split across
    /// cores), or with `openBLASThreads` as plain cblas_sgemm calls on OpenBLAS's own threads.
    public static func gemmSeconds(_ gemms: [Gemm], steps: Int, repeats: Int = 5, openBLASThreads: Int? = nil,
                                   shouldStop: () -> Bool = { false }) throws -> Double {
        let buffers = gemms.map { g -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) in
            let a = UnsafeMutablePointer<Float>.allocate(capacity: g.m * g.k)
            let b = UnsafeMutablePointer<Float>.allocate(capacity: g.k * g.n)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: g.m * g.n)
            for i in 0..<(g.m * g.k) { a[i] = Float(i % 7) * 0.01 }
            for i in 0..<(g.k * g.n) { b[i] = Float(i % 5) * 0.01 }
            c.initialize(repeating: 0, count: g.m * g.n)
            return (a, b, c)
        }
        defer { for (a, b, c) in buffers { a.deallocate(); b.deallocate(); c.deallocate() } }
        func step() {
            for (g, (a, b, c)) in zip(gemms, buffers) {
                if let t = openBLASThreads {
                    BLAS.openBLASGemm(threads: t, transA: g.transA, transB: g.transB, m: g.m, n: g.n, k: g.k,
                                      a: a, lda: g.transA ? g.m : g.k, b: b, ldb: g.transB ? g.k : g.n, c: c, ldc: g.n)
                    continue
                }
                BLAS.gemm(transA: g.transA, transB: g.transB, m: g.m, n: g.n, k: g.k,
                          a: a, lda: g.transA ? g.m : g.k, b: b, ldb: g.transB ? g.k : g.n,
                          beta: 0, c: c, ldc: g.n)
            }
        }
        return try median(repeats: repeats, steps: steps, shouldStop: shouldStop, step)
    }

    /// Seconds a training step (forward, loss, backward, update) on random inputs, median of
    /// `repeats` timings of `steps` steps. The model's weights change; its owner knows.
    public static func trainingSeconds(model: Sequential, loss: Loss, optimizer: Optimizer, classes: Int,
                                       batch: Int, steps: Int, repeats: Int = 5, shouldStop: () -> Bool = { false }) throws -> Double {
        var random = RandomSource(seed: 1)
        let x = Tensor(rows: batch, cols: model.inputWidth, values: (0..<(batch * model.inputWidth)).map { _ in random.uniform() })
        let targets = (0..<batch).map { Int32($0 % max(classes, 1)) }
        let gradient = Tensor()
        model.isTraining = true
        optimizer.bind(model.parameters)
        var failure: Error?
        let seconds = try median(repeats: repeats, steps: steps, shouldStop: shouldStop) {
            let out = model.forward(x)
            gradient.reshape(rows: out.rows, cols: out.cols)
            do {
                _ = try targets.withUnsafeBufferPointer {
                    try loss.compute(output: out.data, rows: out.rows, cols: out.cols, targets: $0.baseAddress!, gradient: gradient.data)
                }
            } catch { failure = error }
            model.backward(gradient)
            optimizer.step()
        }
        if let failure { throw failure }
        return seconds
    }

    /// Seconds a step of each layer's forward and backward pass (in the order of the model),
    /// the median of `repeats` timings of `steps` passes of the whole model on random inputs,
    /// in training mode. Parameters' gradients accumulate; the caller clears them.
    public static func layerSeconds(model: Sequential, batch: Int, steps: Int, repeats: Int = 5,
                                    shouldStop: () -> Bool = { false }) throws -> [(layer: String, forward: Double, backward: Double)] {
        var random = RandomSource(seed: 1)
        let x = Tensor(shape: [batch] + model.inputShape, values: (0..<(batch * model.inputWidth)).map { _ in random.uniform() })
        model.isTraining = true
        let layers = model.layers
        var outputs: [Tensor] = [], gradients: [Tensor] = []
        // One pass to size the buffers and make each layer's output gradient.
        var h = x
        for l in layers { h = l.forward(h); outputs.append(h) }
        for out in outputs { gradients.append(Tensor(shape: out.shape, values: (0..<out.count).map { _ in random.uniform(-1, 1) })) }
        var samples = [[(Double, Double)]](repeating: [], count: layers.count)
        for _ in 0..<max(repeats, 1) {
            var forward = [Double](repeating: 0, count: layers.count), backward = forward
            for _ in 0..<max(steps, 1) {
                var input = x
                for (i, l) in layers.enumerated() {
                    let start = DispatchTime.now().uptimeNanoseconds
                    input = l.forward(input)
                    forward[i] += Double(DispatchTime.now().uptimeNanoseconds - start)
                }
                for (i, l) in layers.enumerated().reversed() {
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = l.backward(gradients[i])
                    backward[i] += Double(DispatchTime.now().uptimeNanoseconds - start)
                }
                for p in model.parameters { p.clearGradient() }
                if shouldStop() { throw EngineError("bench: interrupted; nothing was measured") }
            }
            for i in layers.indices { samples[i].append((forward[i] / 1e9 / Double(steps), backward[i] / 1e9 / Double(steps))) }
        }
        return layers.indices.map { i in
            let f = samples[i].map(\.0).sorted(), b = samples[i].map(\.1).sorted()
            return (layers[i].spec.text, f[f.count / 2], b[b.count / 2])
        }
    }

    /// The median of `repeats` timings of `steps` steps; `shouldStop` is asked after each
    /// step, and a stop is an error (a partial timing means nothing).
    private static func median(repeats: Int, steps: Int, shouldStop: () -> Bool, _ step: () -> Void) throws -> Double {
        step()  // warm up: buffers, threads
        var times: [Double] = []
        for _ in 0..<max(repeats, 1) {
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<max(steps, 1) {
                step()
                if shouldStop() { throw EngineError("bench: interrupted; nothing was measured") }
            }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(max(steps, 1)))
        }
        times.sort()
        return times[times.count / 2]
    }
}
