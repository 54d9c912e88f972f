import Foundation
import SwiftProtobuf

/// An ONNX graph read back into mlpsh layers: the operators mlpsh has (the SPEC's list), in
/// the shapes torch.onnx.export writes for an nn.Sequential of them, residual blocks (a value
/// that forks and meets again at an Add) and concatenations (forks that meet at a Concat on
/// the channel axis). Anything else is refused with an error naming the node.
public enum ONNXImport {
    /// The most bytes a file may have, and the most nodes a graph.
    public static let maximumFileBytes = 1 << 31, maximumNodes = 100_000
    /// The operators read, for messages.
    public static let operators = "Gemm, MatMul+Add, Conv, Relu, LeakyRelu, Sigmoid, Tanh, Softmax, LogSoftmax, MaxPool, AveragePool, "
        + "GlobalAveragePool, ReduceMean (over height and width), BatchNormalization, Flatten, Reshape, Add, Concat, Dropout, Identity"

    /// The model in `path`, its weights filled.
    public static func load(_ path: String, registries: Registries = .shared) throws -> Sequential {
        try model(Data(readFileBytes(path, limit: maximumFileBytes, inflate: false)), name: path,
                  folder: (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent,
                  registries: registries)
    }

    /// The model a serialized ModelProto describes; tensors kept in another file are read
    /// from `folder` (none when nil).
    public static func model(_ bytes: Data, name: String, folder: String? = nil, registries: Registries = .shared) throws -> Sequential {
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = 64
        let proto: Onnx_ModelProto
        do {
            proto = try Onnx_ModelProto(serializedBytes: bytes, options: options)
        } catch {
            throw EngineError("\(name): not an ONNX model (\(error))")
        }
        guard proto.hasGraph else { throw EngineError("\(name): the ONNX model holds no graph") }
        var reader = try GraphReader(proto.graph, file: name, folder: folder)
        let items = try reader.read()
        let specs = items.map(\.spec)
        let model = try rebuilding(name) { try Sequential.build(specs, inputShape: reader.inputShape, registries: registries, random: RandomGenerator(seed: 0)) }
        var tensors: [String: [Float]] = [:]
        for (i, item) in items.enumerated() { item.collect(prefix: "\(i).", into: &tensors) }
        var used = 0
        for (n, p) in model.namedParameters {
            guard let v = tensors[n] else { throw EngineError("\(name): no values for \(n)") }
            guard v.count == p.count else { throw EngineError("\(name): \(n) has \(v.count) values where the layer takes \(p.count)") }
            v.withUnsafeBufferPointer { p.value.data.update(from: $0.baseAddress!, count: v.count) }
            used += 1
        }
        for (n, b) in model.namedBuffers {
            guard case .f32(let t) = b.values else { continue }
            guard let v = tensors[n] else { throw EngineError("\(name): no values for \(n)") }
            guard v.count == t.count else { throw EngineError("\(name): \(n) has \(v.count) values where the layer takes \(t.count)") }
            v.withUnsafeBufferPointer { t.data.update(from: $0.baseAddress!, count: v.count) }
            used += 1
        }
        guard used == tensors.count else { throw EngineError("\(name): \(tensors.count - used) tensors of the graph fit no layer") }
        return model
    }

    private static func rebuilding<T>(_ name: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as LayerBuildError {
            throw EngineError("\(name): the layers read from the graph do not build: \(e.message)")
        }
    }
}

/// One layer read from the graph, with its tensors by local name ("weight", "running_mean")
/// and, for a block, its nested lists (a residual's body and shortcut, a concat's branches).
struct ImportedLayer {
    var spec: Spec
    var tensors: [String: [Float]] = [:]
    var blocks: [[ImportedLayer]] = []

    init(_ name: String, _ args: [String] = [], _ options: [(key: String, value: String)] = [], tensors: [String: [Float]] = [:]) {
        spec = Spec(name, args: args, options: options)
        self.tensors = tensors
    }

    init(block name: String, _ blocks: [[ImportedLayer]]) {
        spec = Spec(name, blocks: blocks.map { $0.map(\.spec) })
        self.blocks = blocks
    }

    /// Its tensors under their state_dict names.
    func collect(prefix: String, into out: inout [String: [Float]]) {
        for (k, v) in tensors { out[prefix + k] = v }
        let names = spec.name == "residual" ? ["body", "shortcut"] : blocks.indices.map { "branches.\($0)" }
        for (b, list) in blocks.enumerated() {
            for (j, item) in list.enumerated() { item.collect(prefix: "\(prefix)\(names[b]).\(j).", into: &out) }
        }
    }
}
