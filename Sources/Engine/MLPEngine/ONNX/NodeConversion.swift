/// One ONNX node (or a MatMul and the Add of its bias) as an mlpsh layer, its attributes as
/// the layer's options and its initializers as the layer's tensors; nil for a node that is the
/// identity in evaluation mode (Dropout, Identity, a Reshape that changes nothing).
extension GraphReader {
    mutating func convert(_ index: Int, value: String, shape: [Int]) throws -> [ImportedLayer] {
        try layers(index, value: value, shape: shape)
    }

    private mutating func layers(_ index: Int, value: String, shape: [Int]) throws -> [ImportedLayer] {
        guard let one = try layer(index, value: value, shape: shape) else { return [] }
        // A mean over height and width that drops them is a global pooling, then flattening.
        let n = nodes[index]
        if n.opType == "ReduceMean" && int(n, "keepdims", 1) == 0 { return [one, ImportedLayer("flatten")] }
        return [one]
    }

    private mutating func layer(_ index: Int, value: String, shape: [Int]) throws -> ImportedLayer? {
        let n = nodes[index]
        taken.insert(index)
        lastTaken = index
        func fail(_ why: String) -> EngineError { EngineError("\(file): node '\(n.name)' (\(n.opType)) \(why)") }
        // The node's other inputs are weights: initializers or constants.
        func weight(_ i: Int) throws -> (dims: [Int], values: [Float])? {
            guard i < n.input.count, !n.input[i].isEmpty else { return nil }
            guard let w = floats[n.input[i]] else { throw fail("reads '\(n.input[i])' as a weight, but it is computed or not float32") }
            return w
        }
        guard n.input.first == value else { throw fail("reads the chain's value '\(value)' as an input other than its first") }
        guard n.output.count >= 1 else { throw fail("has no output") }
        let width = shape.reduce(1, *)
        switch n.opType {
        case "Gemm":
            guard int(n, "transA", 0) == 0, float(n, "alpha", 1) == 1, float(n, "beta", 1) == 1 else {
                throw fail("has transA, alpha or beta other than nn.Linear's")
            }
            guard let w = try weight(1), w.dims.count == 2 else { throw fail("has no 2-D weight") }
            let transposed = int(n, "transB", 0) == 1
            let (out, inp) = transposed ? (w.dims[0], w.dims[1]) : (w.dims[1], w.dims[0])
            guard inp == width else { throw fail("takes \(inp) inputs where the value before it has \(width)") }
            let b = try weight(2)
            guard b == nil || b!.values.count == out else { throw fail("has a bias of \(b!.values.count) values for \(out) outputs") }
            return linear(inp, out, weight: transposed ? w.values : transpose(w.values, rows: inp, cols: out), bias: b?.values)
        case "MatMul":
            guard let w = try weight(1), w.dims.count == 2, w.dims[0] == width, shape.count == 1 else {
                throw fail("is not a [batch, \(width)] value times a [\(width), N] weight")
            }
            let out = w.dims[1]
            var bias: [Float]?
            // The Add of a bias that follows it, as torch.onnx.export writes nn.Linear at times.
            if let readers = consumers[n.output[0]], readers.count == 1, nodes[readers[0]].opType == "Add" {
                let add = nodes[readers[0]]
                if let other = add.input.first(where: { $0 != n.output[0] }), let b = floats[other], b.values.count == out {
                    bias = b.values
                    taken.insert(readers[0])
                    lastTaken = readers[0]
                }
            }
            return linear(width, out, weight: transpose(w.values, rows: width, cols: out), bias: bias)
        case "Conv":
            guard shape.count == 3 else { throw fail("reads a value of shape \(shape), not [channels, height, width]") }
            guard let w = try weight(1), w.dims.count == 4 else { throw fail("has no 4-D weight (2-D convolutions only)") }
            let groups = int(n, "group", 1)
            guard groups >= 1, w.dims[1] * groups == shape[0] else { throw fail("takes \(w.dims[1] * groups) channels where the value before it has \(shape[0])") }
            var options = try window(n, kernel: ints(n, "kernel_shape") ?? [w.dims[2], w.dims[3]], fail: fail)
            if groups != 1 { options.append(("groups", "\(groups)")) }
            let b = try weight(2)
            if b == nil { options.append(("bias", "false")) }
            var tensors = ["weight": w.values]
            if let b { tensors["bias"] = b.values }
            return ImportedLayer("conv2d", ["\(shape[0])", "\(w.dims[0])", pair(w.dims[2], w.dims[3])], options, tensors: tensors)
        case "MaxPool", "AveragePool":
            guard shape.count == 3, let k = ints(n, "kernel_shape"), k.count == 2 else { throw fail("is not a 2-D pooling of a [channels, height, width] value") }
            guard int(n, "storage_order", 0) == 0, n.output.count == 1 || n.output[1].isEmpty else { throw fail("asks for its indices, which mlpsh does not give") }
            var options = try window(n, kernel: k, fail: fail).filter { $0.key != "stride" || $0.value != pair(k[0], k[1]) }
            // ONNX's stride is 1 unless given, mlpsh's the kernel: it is written unless it is the kernel.
            if int(n, "ceil_mode", 0) != 0 { options.append(("ceil_mode", "true")) }
            if n.opType == "AveragePool" {
                guard !options.contains(where: { $0.key == "dilation" }) else { throw fail("has dilations, which avgpool2d does not take") }
                options.append(("count_include_pad", int(n, "count_include_pad", 0) != 0 ? "true" : "false"))
            }
            return ImportedLayer(n.opType == "MaxPool" ? "maxpool2d" : "avgpool2d", [pair(k[0], k[1])], options)
        case "ReduceMean":
            // torch.onnx.export's nn.AdaptiveAvgPool2d(1): the mean over height and width.
            let axes = ints(n, "axes") ?? (n.input.count > 1 ? integers[n.input[1]] : nil)
            guard shape.count == 3, let axes, Set(axes.map { $0 < 0 ? $0 + 4 : $0 }) == [2, 3] else {
                throw fail("is a mean over other axes than height and width of a [channels, height, width] value")
            }
            return ImportedLayer("adaptive_avgpool2d", ["1"])
        case "GlobalAveragePool":
            guard shape.count == 3 else { throw fail("reads a value of shape \(shape), not [channels, height, width]") }
            return ImportedLayer("adaptive_avgpool2d", ["1"])
        case "BatchNormalization":
            guard int(n, "training_mode", 0) == 0, n.output.count == 1 else { throw fail("is in training mode") }
            let c = shape.first ?? 0
            guard let scale = try weight(1), let b = try weight(2), let mean = try weight(3), let variance = try weight(4),
                  [scale, b, mean, variance].allSatisfy({ $0.values.count == c }) else { throw fail("needs scale, bias, mean and variance of \(c) values") }
            let momentum = 1 - Double(float(n, "momentum", 0.9)), eps = Double(float(n, "epsilon", 1e-5))
            return ImportedLayer(shape.count == 3 ? "batchnorm2d" : "batchnorm1d", ["\(c)"], [("eps", short(eps)), ("momentum", short(momentum))],
                                 tensors: ["weight": scale.values, "bias": b.values, "running_mean": mean.values, "running_var": variance.values])
        case "Relu": return ImportedLayer("relu")
        case "Sigmoid": return ImportedLayer("sigmoid")
        case "Tanh": return ImportedLayer("tanh")
        case "LeakyRelu": return ImportedLayer("leaky_relu", [], [("slope", "\(float(n, "alpha", 0.01))")])
        case "Softmax", "LogSoftmax":
            let axis = int(n, "axis", -1)
            guard shape.count == 1, axis == 1 || axis == -1 else { throw fail("is over axis \(axis) of a [batch, \(shape)] value; mlpsh's is over each sample") }
            return ImportedLayer(n.opType == "Softmax" ? "softmax" : "log_softmax")
        case "Flatten":
            guard int(n, "axis", 1) == 1 else { throw fail("flattens from axis \(int(n, "axis", 1)), not 1") }
            return shape.count == 1 ? nil : ImportedLayer("flatten")
        case "Reshape":
            guard n.input.count == 2, let target = integers[n.input[1]] else { throw fail("has a shape computed in the graph, which mlpsh cannot follow") }
            let sample = Array(target.dropFirst())
            guard let first = target.first, first == 0 || first == -1 else { throw fail("reshapes the batch axis (to \(target))") }
            if sample == shape { return nil }
            if sample == [width] || sample == [-1] { return shape.count == 1 ? nil : ImportedLayer("flatten") }
            throw fail("reshapes \(shape) to \(sample); mlpsh reads only flattening")
        case "Dropout", "Identity":
            guard n.output.count == 1 || n.output.dropFirst().allSatisfy(\.isEmpty) else { throw fail("gives its mask, which mlpsh does not") }
            return nil
        default:
            throw fail("has no mlpsh layer; mlpsh reads \(ONNXImport.operators)")
        }
    }

    private func linear(_ inp: Int, _ out: Int, weight: [Float], bias: [Float]?) -> ImportedLayer {
        ImportedLayer("linear", ["\(inp)", "\(out)"], tensors: ["weight": weight, "bias": bias ?? [Float](repeating: 0, count: out)])
    }

    /// A [rows, cols] matrix as [cols, rows].
    private func transpose(_ m: [Float], rows: Int, cols: Int) -> [Float] {
        var t = [Float](repeating: 0, count: m.count)
        for r in 0..<rows { for c in 0..<cols { t[c * rows + r] = m[r * cols + c] } }
        return t
    }

    /// A window's stride, padding and dilation as mlpsh's options (kernel sizes checked).
    private func window(_ n: Onnx_NodeProto, kernel k: [Int], fail: (String) -> EngineError) throws -> [(key: String, value: String)] {
        let autoPad = n.attribute.first { $0.name == "auto_pad" }.map { String(decoding: $0.s, as: UTF8.self) } ?? "NOTSET"
        guard autoPad == "NOTSET" || autoPad.isEmpty else { throw fail("has auto_pad=\(autoPad); mlpsh reads explicit pads") }
        guard k.count == 2, k.allSatisfy({ $0 >= 1 && $0 <= 1024 }) else { throw fail("has kernel_shape \(k)") }
        let s = ints(n, "strides") ?? [1, 1], p = ints(n, "pads") ?? [0, 0, 0, 0], d = ints(n, "dilations") ?? [1, 1]
        guard s.count == 2, p.count == 4, d.count == 2 else { throw fail("has strides, pads or dilations of the wrong length") }
        guard p[0] == p[2], p[1] == p[3] else { throw fail("pads its sides unequally (\(p)); mlpsh pads top as bottom and left as right") }
        var options: [(key: String, value: String)] = []
        if s != [1, 1] || n.opType != "Conv" { options.append(("stride", pair(s[0], s[1]))) }
        if p[0] != 0 || p[1] != 0 { options.append(("padding", pair(p[0], p[1]))) }
        if d != [1, 1] { options.append(("dilation", pair(d[0], d[1]))) }
        return options
    }

    /// A float attribute in the fewest digits that keep its float32 value.
    private func short(_ v: Double) -> String {
        for digits in 1...9 {
            let text = String(format: "%.\(digits)g", v)
            if Float(text) == Float(v) { return text }
        }
        return "\(v)"
    }
}
