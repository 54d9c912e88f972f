import Foundation
import SwiftProtobuf

/// A model as an ONNX file: opset 17, float32, the input `input` of shape [batch, ...sample]
/// with a dynamic batch axis, the output `logits`, in evaluation mode. Initializers carry the
/// safetensors names ("0.weight").
public enum ONNXExport {
    public static let opset = 17

    /// The error for a layer without an export (a plugin's that provides none).
    static func notExportable(_ layer: Layer) -> EngineError {
        EngineError("layer '\(layer.name)' has no ONNX export (a plugin's layer exports by conforming to ONNXExportable)")
    }

    /// Adds one layer's nodes.
    static func layer(_ layer: Layer, to graph: inout ONNXGraph, input: String, inputShape: [Int], prefix: String) throws -> String {
        guard let exportable = layer as? ONNXExportable else { throw notExportable(layer) }
        return try exportable.exportONNX(to: &graph, input: input, inputShape: inputShape, prefix: prefix)
    }

    /// The model's graph, serialized.
    public static func data(_ model: Sequential, producer: String = "mlpsh") throws -> Data {
        guard !model.inputShape.isEmpty else {
            throw EngineError("the model's input shape is unknown: load data first, or start the model with a layer that states it")
        }
        var graph = ONNXGraph()
        var value = "input", shape = model.inputShape
        for (i, l) in model.layers.enumerated() {
            value = try layer(l, to: &graph, input: value, inputShape: shape, prefix: "\(i).")
            shape = l.outputShape
        }
        // The last node's output becomes `logits`; a model whose last value is not a node's
        // own (all dropout, or a value read elsewhere too) gets an Identity.
        if let last = graph.nodes.indices.last, graph.nodes[last].output == [value],
           !graph.nodes.contains(where: { $0.input.contains(value) }) {
            graph.nodes[last].output = ["logits"]
        } else {
            _ = graph.node("Identity", [value], name: "")
            graph.nodes[graph.nodes.count - 1].output = ["logits"]
        }
        var g = Onnx_GraphProto()
        g.name = "mlpsh"
        g.node = graph.nodes
        g.initializer = graph.initializers
        g.input = [valueInfo("input", [nil] + model.inputShape)]
        g.output = [valueInfo("logits", [nil] + model.layers.last!.outputShape)]
        var m = Onnx_ModelProto()
        m.irVersion = 8
        m.producerName = producer
        m.producerVersion = engineVersion
        var opsetID = Onnx_OperatorSetIdProto()
        opsetID.domain = ""
        opsetID.version = Int64(opset)
        m.opsetImport = [opsetID]
        m.graph = g
        return try m.serializedData()
    }

    /// Writes the model's graph to `path` atomically.
    public static func write(_ model: Sequential, to path: String) throws {
        try AtomicFile.write(Array(try data(model)), to: path)
    }

    /// A float32 tensor's name and shape, nil for the dynamic batch axis.
    static func valueInfo(_ name: String, _ shape: [Int?]) -> Onnx_ValueInfoProto {
        var info = Onnx_ValueInfoProto()
        info.name = name
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        var s = Onnx_TensorShapeProto()
        s.dim = shape.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            if let d { dim.dimValue = Int64(d) } else { dim.dimParam = "batch" }
            return dim
        }
        tensor.shape = s
        var type = Onnx_TypeProto()
        type.tensorType = tensor
        info.type = type
        return info
    }
}
