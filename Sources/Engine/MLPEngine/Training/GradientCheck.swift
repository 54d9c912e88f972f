/// Finite-difference gradient checks in the manner of Caffe's GradientChecker(1e-2, 1e-3),
/// run over whatever the registries hold: built-in layers and losses, and those plugins add.
///
/// For a layer the scalar checked is L = Σ out ⊙ g for a fixed random upstream gradient g, so
/// dL/dout = g and backward(g) must give dL/dx and (accumulated into the parameters' grads) dL/dθ.
public enum GradientCheck {
    /// Central-difference step, in Float.
    public static let stepsize: Float = 1e-2
    /// Caffe's rule: |analytic - estimate| <= threshold · max(|analytic|, |estimate|, 1).
    public static let threshold: Double = 1e-3

    /// The result for one layer or loss configuration: what was checked, and each mismatch.
    public struct Report {
        public let label: String
        public var failures: [String] = []
        public var comparisons = 0
        public var passed: Bool { failures.isEmpty }
    }

    /// The positional words a layer is tried with, in order; every form that builds is checked
    /// (linear builds as "linear 4" and "linear 5 4", conv2d as "conv2d 2 3 3").
    static let positionalForms: [[String]] = [[], ["4"], ["5", "4"], ["2"], ["5"], ["2", "3", "3"], ["2", "4", "2,3"], ["3,2"]]
    /// The options tried beside the defaults, each only where the layer has all its keys.
    static let optionForms: [[String: String]] = [[:], ["stride": "2", "padding": "1"], ["stride": "1"],
                                                  ["padding": "1"], ["bias": "false"], ["eps": "0.001", "momentum": "0.3"],
                                                  ["padding": "same"], ["dilation": "2", "padding": "2,1"], ["groups": "2"],
                                                  ["stride": "2,1", "padding": "1,0"], ["ceil_mode": "true", "stride": "3"],
                                                  ["count_include_pad": "false", "padding": "1"], ["dilation": "2"],
                                                  ["affine": "false"]]
    /// The input shapes tried: a vector of features, and images [C, H, W].
    static let inputShapes: [[Int]] = [[5], [2, 4, 4]]

    /// Checks every form of layer `name` that builds, on every input shape, in evaluation and
    /// training mode.
    public static func layer(named name: String, in registries: Registries = .shared) throws -> [Report] {
        let entry = try registries.layers.lookup(name)
        let keys = Set(entry.options.map(\.key))
        var reports: [Report] = []
        if entry.separator != nil { return try block(entry, in: registries) }
        for shape in inputShapes {
            for positional in positionalForms {
                for optionValues in optionForms where optionValues.keys.allSatisfy(keys.contains) {
                    for training in [false, true] {
                        guard let options = try? Options(optionValues, specs: entry.options, owner: name),
                              let layer = try? entry.make(LayerArguments(positional: positional, options: options,
                                                                         inputShape: shape, random: RandomGenerator(seed: 7)))
                        else { continue }
                        let words = [name] + positional + optionValues.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                        let on = shape == inputShapes[0] ? "" : " on \(shape)"
                        let label = words.joined(separator: " ") + on + (training ? " (training)" : " (eval)")
                        reports.append(check(layer, inputShape: shape, label: label, training: training))
                    }
                }
            }
        }
        if reports.isEmpty {
            throw EngineError("layer '\(name)' could not be built on \(inputShapes) with any of \(positionalForms) for the gradient check")
        }
        return reports
    }

    /// A block (residual, concat) is checked holding small lists of layers: one list, two, and
    /// a second that is empty (the identity), on a vector and on images.
    static func block(_ entry: RegistryEntry<LayerFactory>, in registries: Registries) throws -> [Report] {
        let lists: [[Int]: ([String], [String])] = [
            [5]: (["linear 5 5", "tanh"], ["linear 5 5"]),
            [2, 4, 4]: (["conv2d 2 2 3 padding=1", "tanh"], ["conv2d 2 2 1"]),
        ]
        var reports: [Report] = []
        for shape in inputShapes {
            guard let (first, second) = lists[shape] else { continue }
            let a = try first.map { try Spec(parsing: $0, what: "gradcheck") }, b = try second.map { try Spec(parsing: $0, what: "gradcheck") }
            for (blocks, what) in [([a], "one list"), ([a, b], "two lists"), ([a, []], "an empty second list")] {
                for training in [false, true] {
                    guard let layer = try? entry.make(LayerArguments(positional: [], options: try Options([:], specs: entry.options, owner: entry.name),
                                                                     inputShape: shape, random: RandomGenerator(seed: 7),
                                                                     blocks: blocks, registries: registries))
                    else { continue }
                    let on = shape == inputShapes[0] ? "" : " on \(shape)"
                    reports.append(check(layer, inputShape: shape, label: "\(entry.name) of \(what)\(on)" + (training ? " (training)" : " (eval)"),
                                         training: training))
                }
            }
        }
        if reports.isEmpty { throw EngineError("block '\(entry.name)' could not be built for the gradient check") }
        return reports
    }

    /// An input 3x5 whose values are at least 0.2 from 0 and 0.05 from ±1, so that the usual
    /// kinks (relu at 0, hardtanh and clamps at ±1) are more than a step away.
    static func input(_ random: inout RandomSource) -> [Float] {
        (0..<15).map { _ in
            var magnitude: Float
            repeat { magnitude = 0.2 + 0.8 * random.uniform() } while abs(magnitude - 1) < 0.05
            return random.uniform() < 0.5 ? -magnitude : magnitude
        }
    }

    /// `count` distinct values 0.05 apart in a random order, halfway between multiples of 0.05
    /// and none within 0.2 of 0: no two in a pooling window within a step of each other, and
    /// no value within a step of a kink at a round number (0, ±0.5, ±1, 6, ...).
    static func spacedInput(_ count: Int, _ random: inout RandomSource) -> [Float] {
        var values: [Float] = []
        var k = 0
        while values.count < count {
            let v = (Float(k - count / 2 - 4) + 0.5) * 0.05
            if abs(v) >= 0.2 { values.append(v) }
            k += 1
        }
        for i in stride(from: values.count - 1, to: 0, by: -1) { values.swapAt(i, random.below(i + 1)) }
        return values
    }

    private static func objective(_ out: Tensor, _ g: [Float]) -> Double {
        var s = 0.0
        for i in 0..<min(out.count, g.count) { s += Double(out.data[i]) * Double(g[i]) }
        return s
    }

    private static func compare(_ report: inout Report, _ analytic: Float, _ estimate: Double, _ what: @autoclosure () -> String) {
        let a = Double(analytic)
        report.comparisons += 1
        if !(abs(a - estimate) <= threshold * max(abs(a), abs(estimate), 1)) {
            report.failures.append("\(what()): analytic \(a) vs finite difference \(estimate)")
        }
    }

    /// Checks `layer` on a batch of 3 samples of 5 features.
    public static func check(_ layer: Layer, label: String, training: Bool) -> Report {
        check(layer, inputShape: [5], label: label, training: training)
    }

    /// Checks `layer` on a batch of samples of `inputShape` (3 of a vector, 2 of an image).
    public static func check(_ layer: Layer, inputShape: [Int], label: String, training: Bool) -> Report {
        var report = Report(label: label)
        var random = RandomSource(seed: 42)
        let batch = inputShape.count == 1 ? 3 : 2
        let sample = inputShape.reduce(1, *), n = batch * sample
        let xValues = inputShape.count == 1 && sample == 5 ? input(&random) : spacedInput(n, &random)
        let outShape = [batch] + layer.outputShape
        let width = layer.outputShape.reduce(1, *)
        let g = (0..<width * batch).map { _ in random.uniform(-1, 1) }
        let x = Tensor(shape: [batch] + inputShape, values: xValues)
        layer.needsInputGradient = true
        // In evaluation, layers with running statistics use those a training pass left.
        layer.isTraining = true
        if !training { _ = layer.forward(x) }
        layer.isTraining = training

        // A layer whose output changes between two forward passes on the same input draws
        // random numbers (dropout); in training mode it is checked against its own mask.
        var stochastic = false
        if training && layer.buffers.isEmpty {
            let first = layer.forward(x).array
            stochastic = first != layer.forward(x).array
        }
        for p in layer.parameters { p.grad.fill(0) }   // backward accumulates
        let out = layer.forward(x)
        guard out.rows == batch, out.cols == width else {
            report.failures.append("output is \(out.shape), but outputShape says \(outShape)")
            return report
        }
        let outValues = out.array
        let dx = layer.backward(Tensor(shape: outShape, values: g)).array
        guard dx.count == n else {
            report.failures.append("the input gradient has \(dx.count) values, not \(n)")
            return report
        }
        if stochastic {
            // Backward must use the mask forward drew: out = x ⊙ m, so dx = g ⊙ m = g ⊙ out / x.
            for i in 0..<n {
                let m = outValues[i] / xValues[i]
                compare(&report, dx[i], Double(g[i] * m), "dx[\(i)] against dy ⊙ the forward mask")
            }
            return report
        }
        let analyticParams = layer.parameters.map { $0.grad.array }
        let probe = Tensor(shape: [batch] + inputShape, values: xValues)
        for i in 0..<n {
            probe.data[i] = xValues[i] + stepsize
            let plus = objective(layer.forward(probe), g)
            probe.data[i] = xValues[i] - stepsize
            let minus = objective(layer.forward(probe), g)
            probe.data[i] = xValues[i]
            compare(&report, dx[i], (plus - minus) / (2 * Double(stepsize)), "d/dx[\(i / sample),\(i % sample)]")
        }
        for (pi, p) in layer.parameters.enumerated() {
            for i in 0..<p.count {
                let saved = p.value.data[i]
                p.value.data[i] = saved + stepsize
                let plus = objective(layer.forward(x), g)
                p.value.data[i] = saved - stepsize
                let minus = objective(layer.forward(x), g)
                p.value.data[i] = saved
                compare(&report, analyticParams[pi][i], (plus - minus) / (2 * Double(stepsize)), "d/d\(p.name)[\(i)]")
            }
        }
        return report
    }

    /// Checks loss `name` with `options` on 4 rows of 4 outputs against `targets`.
    public static func loss(named name: String, options values: [String: String] = [:], targets: [Int32] = [0, 3, 1, 2],
                            in registries: Registries = .shared) throws -> Report {
        let loss: Loss = try registries.losses.make(Spec(name, options: values.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        var report = Report(label: ([name] + values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }).joined(separator: " "))
        var random = RandomSource(seed: 11)
        var output = (0..<16).map { _ in random.uniform(-2, 2) }
        var gradient = [Float](repeating: .nan, count: 16)
        let value = try targets.withUnsafeBufferPointer { t in
            try loss.compute(output: output, rows: 4, cols: 4, targets: t.baseAddress!, gradient: &gradient)
        }
        if !value.isFinite { report.failures.append("the loss is \(value)") }
        for i in 0..<16 {
            let saved = output[i]
            output[i] = saved + stepsize
            let plus = try targets.withUnsafeBufferPointer {
                try loss.compute(output: output, rows: 4, cols: 4, targets: $0.baseAddress!, gradient: nil)
            }
            output[i] = saved - stepsize
            let minus = try targets.withUnsafeBufferPointer {
                try loss.compute(output: output, rows: 4, cols: 4, targets: $0.baseAddress!, gradient: nil)
            }
            output[i] = saved
            compare(&report, gradient[i], (Double(plus) - Double(minus)) / (2 * Double(stepsize)), "d/dout[\(i / 4),\(i % 4)]")
        }
        return report
    }
}
