import Foundation

/// An ONNX graph as it is being written: nodes in order, initializers, and fresh names for
/// the values between nodes. A layer adds what computes it (`ONNXExportable`); the model's
/// export (`ONNXExport`) starts it at the input and names the last value `logits`.
public struct ONNXGraph {
    /// A node attribute, as ONNX types them.
    public enum Attribute {
        case int(String, Int)
        case ints(String, [Int])
        case float(String, Float)
    }

    var nodes: [Onnx_NodeProto] = []
    var initializers: [Onnx_TensorProto] = []
    private var counter = 0

    /// Adds an initializer of float32 values; returns its name.
    @discardableResult
    public mutating func initializer(_ name: String, shape: [Int], values: UnsafeBufferPointer<Float>) -> String {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = shape.map(Int64.init)
        t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        t.rawData = Data(buffer: values)
        initializers.append(t)
        return name
    }

    /// Adds an initializer holding a tensor's values.
    @discardableResult
    public mutating func initializer(_ name: String, _ tensor: Tensor, shape: [Int]? = nil) -> String {
        initializer(name, shape: shape ?? tensor.shape, values: UnsafeBufferPointer(start: tensor.data, count: tensor.count))
    }

    /// Adds an initializer of int64 values (a shape for Reshape).
    @discardableResult
    public mutating func integers(_ name: String, _ values: [Int]) -> String {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = [Int64(values.count)]
        t.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        t.int64Data = values.map(Int64.init)
        initializers.append(t)
        return name
    }

    /// Adds a node of operator `op` reading `inputs`; returns the name of its output, named
    /// after `name` (the layer's state_dict prefix) so that a graph viewer shows where it came from.
    public mutating func node(_ op: String, _ inputs: [String], _ attributes: [Attribute] = [], name: String) -> String {
        counter += 1
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = "\(name)\(op)_\(counter)"
        n.input = inputs
        n.output = ["\(name)\(op.lowercased())_\(counter)"]
        n.attribute = attributes.map { a in
            var p = Onnx_AttributeProto()
            switch a {
            case .int(let key, let v): p.name = key; p.type = .int; p.i = Int64(v)
            case .ints(let key, let v): p.name = key; p.type = .ints; p.ints = v.map(Int64.init)
            case .float(let key, let v): p.name = key; p.type = .float; p.f = v
            }
            return p
        }
        nodes.append(n)
        return n.output[0]
    }
}

/// A layer that can write itself into an ONNX graph. Every built-in layer is; a plugin's layer
/// may be too, and a model holding one that is not cannot be exported (the error names it).
public protocol ONNXExportable {
    /// Adds the nodes that compute this layer in evaluation mode from the value `input` (one
    /// sample of shape `inputShape`, after the batch axis); returns the name of its output.
    /// `prefix` is the layer's state_dict prefix ("3.", "2.body.0."): its initializers are
    /// named with it ("3.weight"), as the safetensors file names them.
    func exportONNX(to graph: inout ONNXGraph, input: String, inputShape: [Int], prefix: String) throws -> String
}
