/// Each built-in layer as ONNX operators (opset 17), in evaluation mode: batch norm with its
/// running statistics, dropout left out. Attributes follow torch.onnx.export's for the matching
/// PyTorch module, so a graph reads back (ONNXImport) into the same layers.

extension Linear: ONNXExportable {
    public func exportONNX(to graph: inout ONNXGraph, input: String, inputShape: [Int], prefix: String) throws -> String {
        // Gemm takes [batch, features]: a sample of more axes is flattened first, as mlpsh reads it.
        let flat = inputShape.count > 1 ? graph.node("Flatten", [input], [.int("axis", 1)], name: prefix) : input
        return graph.node("Gemm", [flat, graph.initializer(prefix + "weight", weight.value), graph.initializer(prefix + "bias", bias.value)],
                          [.float("alpha", 1), .float("beta", 1), .int("transB", 1)], name: prefix)
    }
}

extension ConvGeometry {
    /// kernel_shape, strides, pads (top, left, bottom, right) and dilations.
    var onnxWindow: [ONNXGraph.Attribute] {
        [.ints("kernel_shape", [kernelHeight, kernelWidth]), .ints("strides", [strideHeight, strideWidth]),
         .ints("pads", [padTop, padLeft, padBottom, padRight]), .ints("dilations", [dilationHeight, dilationWidth])]
    }
}

extension Conv2d: ONNXExportable {
    public func exportONNX(to graph: inout ONNXGraph, input: String, inputShape: [Int], prefix: String) throws -> String {
        var inputs = [input, graph.initializer(prefix + "weight", weight.value)]
        if let bias { inputs.append(graph.initializer(prefix + "bias", bias.value)) }
        return graph.node("Conv", inputs, geometry.onnxWindow + [.int("group", groups)], name: prefix)
    }
}

extension MaxPool2d: ONNXExportable {
    public func exportONNX(to graph: inout ONNXGraph, input: String, inputShape: [Int], prefix: String) throws -> String {
        graph.node("MaxPool", [input], geometry.onnxWindow + [.int("ceil_mode", ceilMode ? 1 : 0)], name: prefix)
    }
}

extension AvgPool2d: ONNXExportable {
    public func exportONNX(to graph: inout ONNXGraph, input: String, inputShape: [Int], prefix: String) throws -> String {
        let window = geometry.onnxWindow.filter { if case .ints("dilations", _) = $0 { return false } else { return true } }
        return graph.node("AveragePool", [input], window + [.int("ceil_mode", ceilMode ? 1 : 0), .int("count_include_pad", countIncludePad ? 1 : 0)],
                          name: prefix)
    }
}

extension AdaptiveAvgPool2d: ONNXExportable {
    public func exportONNX(to graph: inout ONNXGraph, input: String, inputShape: [Int], prefix: String) throws -> String {
        if outputHeight == 1 && outputWidth == 1 { return graph.node("GlobalAveragePool", [input], name: prefix) }
        // Windows that tile the input evenly are one average pooling; PyTorch's uneven windows are not.
        guard height % outputHeight == 0, width % outputWidth == 0 else {
            throw EngineError("adaptive_avgpool2d \(outputHeight),\(outputWidth) on a \(height)x\(width) input has uneven windows, which ONNX's pooling cannot express")
        }
        let k = [height / outputHeight, width / outputWidth]
        return graph.node("AveragePool", [input], [.ints("kernel_shape", k), .ints("strides", k)], name: prefix)
    }
}

extension BatchNorm: ONNXExportable {
    public func exportONNX(to graph: inout ONNXGraph, input: String, inputShape: [Int], prefix: String) throws -> String {
        let c = [channels]
        return graph.node("BatchNormalization", [input, graph.initializer(prefix + "weight", weight.value, shape: c),
                                                 graph.initializer(prefix + "bias", bias.value, shape: c),
                                                 graph.initializer(prefix + "running_mean", runningMean, shape: c),
                                                 graph.initializer(prefix + "running_var", runningVar, shape: c)],
                          [.float("epsilon", Float(eps)), .float("momentum", Float(1 - momentum))], name: prefix)
    }
}

extension ElementwiseLayer: ONNXExportable {
    public func exportONNX(to graph: inout ONNXGraph, input: String, inputShape: [Int], prefix: String) throws -> String {
        guard let (op, attributes) = onnxOperator else { throw ONNXExport.notExportable(self) }
        return graph.node(op, [input], attributes, name: prefix)
    }
}

extension Softmax: ONNXExportable {
    public func exportONNX(to graph: inout ONNXGraph, input: String, inputShape: [Int], prefix: String) throws -> String {
        // Over the whole sample, as mlpsh computes it: flattened first when it has more axes.
        let flat = inputShape.count > 1 ? graph.node("Flatten", [input], [.int("axis", 1)], name: prefix) : input
        let out = graph.node(isLog ? "LogSoftmax" : "Softmax", [flat], [.int("axis", 1)], name: prefix)
        guard inputShape.count > 1 else { return out }
        return graph.node("Reshape", [out, graph.integers(prefix + "shape", [0] + inputShape)], name: prefix)
    }
}

extension Flatten: ONNXExportable {
    public func exportONNX(to graph: inout ONNXGraph, input: String, inputShape: [Int], prefix: String) throws -> String {
        graph.node("Flatten", [input], [.int("axis", 1)], name: prefix)
    }
}

extension Dropout: ONNXExportable {
    /// Evaluation mode: the identity, no node.
    public func exportONNX(to graph: inout ONNXGraph, input: String, inputShape: [Int], prefix: String) throws -> String { input }
}

extension LayerList {
    /// The list's layers one after another (the input itself when it is empty).
    func exportONNX(to graph: inout ONNXGraph, input: String, inputShape: [Int], prefix: String) throws -> String {
        var value = input, shape = inputShape
        for (i, layer) in layers.enumerated() {
            value = try ONNXExport.layer(layer, to: &graph, input: value, inputShape: shape, prefix: "\(prefix)\(i).")
            shape = layer.outputShape
        }
        return value
    }
}

extension Residual: ONNXExportable {
    public func exportONNX(to graph: inout ONNXGraph, input: String, inputShape: [Int], prefix: String) throws -> String {
        let a = try body.exportONNX(to: &graph, input: input, inputShape: inputShape, prefix: prefix + "body.")
        let b = try shortcut?.exportONNX(to: &graph, input: input, inputShape: inputShape, prefix: prefix + "shortcut.") ?? input
        return graph.node("Add", [a, b], name: prefix)
    }
}

extension Concat: ONNXExportable {
    public func exportONNX(to graph: inout ONNXGraph, input: String, inputShape: [Int], prefix: String) throws -> String {
        var outs: [String] = []
        for (k, branch) in branches.enumerated() {
            outs.append(try branch.exportONNX(to: &graph, input: input, inputShape: inputShape, prefix: "\(prefix)branches.\(k)."))
        }
        return graph.node("Concat", outs, [.int("axis", 1)], name: prefix)
    }
}
