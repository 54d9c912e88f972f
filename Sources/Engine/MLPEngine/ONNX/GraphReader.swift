import Foundation

/// Walks an ONNX graph from its input to its output, turning runs of nodes into mlpsh layers
/// (ONNXImport). Values are followed forward: a value read by one node continues the chain; a
/// value read by several forks, and its branches must meet again at one Add (a residual) or
/// Concat (a concat); every other input of a node must be an initializer or a constant.
struct GraphReader {
    let file: String
    let nodes: [Onnx_NodeProto]
    /// Initializers and Constant nodes' values: float32 tensors and int64 lists.
    var floats: [String: (dims: [Int], values: [Float])] = [:]
    var integers: [String: [Int]] = [:]
    /// The nodes reading each value, in graph order.
    var consumers: [String: [Int]] = [:]
    let input: String, output: String
    let inputShape: [Int]
    /// Nodes already turned into layers (a MatMul's Add is taken with it).
    var taken = Set<Int>()

    /// `folder`: where tensors kept in another file may be read from (the model file's own
    /// folder), nil when the model did not come from a file.
    init(_ graph: Onnx_GraphProto, file: String, folder: String?) throws {
        self.file = file
        guard graph.node.count <= ONNXImport.maximumNodes else { throw EngineError("\(file): \(graph.node.count) nodes, more than \(ONNXImport.maximumNodes)") }
        nodes = graph.node
        var floats: [String: (dims: [Int], values: [Float])] = [:], integers: [String: [Int]] = [:]
        for t in graph.initializer { try Self.add(try Self.inline(t, file: file, folder: folder), file: file, floats: &floats, integers: &integers) }
        let data = graph.input.filter { floats[$0.name] == nil && integers[$0.name] == nil }
        guard data.count == 1, graph.output.count == 1 else {
            throw EngineError("\(file): the graph has \(data.count) inputs and \(graph.output.count) outputs besides its weights; mlpsh reads one of each")
        }
        input = data[0].name
        output = graph.output[0].name
        let dims = data[0].type.tensorType.shape.dim
        guard data[0].type.tensorType.elemType == Int32(Onnx_TensorProto.DataType.float.rawValue) else {
            throw EngineError("\(file): the input '\(input)' is not float32")
        }
        guard dims.count >= 2, dims.dropFirst().allSatisfy({ $0.dimValue > 0 && $0.dimValue <= 1 << 24 }) else {
            throw EngineError("\(file): the input '\(input)' has shape \(dims.map { d -> String in if case .dimValue(let v)? = d.value { return String(v) } else { return d.dimParam.isEmpty ? "?" : d.dimParam } }): mlpsh needs [batch, ...] with every other axis a fixed size")
        }
        inputShape = dims.dropFirst().map { Int($0.dimValue) }
        // Every input a node reads must exist before it: the graph is in order and has no cycle.
        var defined = Set([input]).union(floats.keys).union(integers.keys)
        for (i, n) in nodes.enumerated() {
            if n.opType == "Constant" {
                guard n.output.count == 1, let a = n.attribute.first(where: { $0.name == "value" }), a.hasT else {
                    throw EngineError("\(file): node '\(n.name)' (Constant) has no tensor value")
                }
                var t = a.t
                t.name = n.output[0]
                try Self.add(t, file: file, floats: &floats, integers: &integers)
                defined.insert(n.output[0])
                continue
            }
            for v in n.input where !v.isEmpty {
                guard defined.contains(v) else {
                    throw EngineError("\(file): node '\(n.name)' (\(n.opType)) reads '\(v)', which no earlier node writes (the graph is out of order or has a cycle)")
                }
                if v != input && floats[v] == nil && integers[v] == nil { consumers[v, default: []].append(i) }
                if v == input { consumers[v, default: []].append(i) }
            }
            defined.formUnion(n.output)
        }
        guard defined.contains(output) else { throw EngineError("\(file): no node writes the output '\(output)'") }
        self.floats = floats
        self.integers = integers
    }

    /// A tensor whose values are kept in another file (as torch.onnx.export writes large models),
    /// with them read in: only from a file of the model's own folder, named without a path.
    static func inline(_ t: Onnx_TensorProto, file: String, folder: String?) throws -> Onnx_TensorProto {
        guard t.dataLocation == .external || !t.externalData.isEmpty else { return t }
        var fields: [String: String] = [:]
        for e in t.externalData { fields[e.key] = e.value }
        guard let folder, let location = fields["location"], !location.isEmpty, !location.contains("/"), location != "..", location != "." else {
            throw EngineError("\(file): tensor '\(t.name)' refers to external data at '\(fields["location"] ?? "")'; mlpsh reads external data only from a file beside the model, named without a path")
        }
        let count = try elementCount(t, file: file)
        let width = t.dataType == Int32(Onnx_TensorProto.DataType.int64.rawValue) ? 8 : 4
        guard let offset = Int(fields["offset"] ?? "0"), let length = Int(fields["length"] ?? String(count * width)), length == count * width else {
            throw EngineError("\(file): tensor '\(t.name)' gives an external offset or length that does not fit its \(count) values")
        }
        var inlined = t
        inlined.externalData = []
        inlined.dataLocation = .default
        inlined.rawData = Data(try readFileRange(folder + "/" + location, offset: offset, length: length))
        return inlined
    }

    /// The number of values a tensor's dimensions give: at most 2^29, as many as a 2 GiB file
    /// can hold as float32.
    static func elementCount(_ t: Onnx_TensorProto, file: String) throws -> Int {
        var count = 1
        for d in t.dims {
            guard d >= 0, d <= Int64(Int32.max) else { throw EngineError("\(file): tensor '\(t.name)' has a dimension of \(d)") }
            let (c, overflow) = count.multipliedReportingOverflow(by: Int(d))
            guard !overflow, c <= 1 << 29 else { throw EngineError("\(file): tensor '\(t.name)' is too large") }
            count = c
        }
        return count
    }

    /// A float32 or int64 tensor, checked: values held in the file, sizes that add up.
    static func add(_ t: Onnx_TensorProto, file: String, floats: inout [String: (dims: [Int], values: [Float])], integers: inout [String: [Int]]) throws {
        guard t.dataLocation != .external, t.externalData.isEmpty else {
            throw EngineError("\(file): tensor '\(t.name)' refers to external data; mlpsh reads only tensors held in the file (torch.onnx.export(..., external_data=False) keeps them there)")
        }
        let count = try elementCount(t, file: file)
        let dims = t.dims.map { Int($0) }
        switch t.dataType {
        case Int32(Onnx_TensorProto.DataType.float.rawValue):
            var values: [Float]
            if !t.rawData.isEmpty {
                guard t.rawData.count == count * 4 else { throw EngineError("\(file): tensor '\(t.name)' holds \(t.rawData.count) bytes for \(count) floats") }
                values = [Float](repeating: 0, count: count)
                _ = values.withUnsafeMutableBytes { t.rawData.copyBytes(to: $0) }
                for i in values.indices { values[i] = Float(bitPattern: UInt32(littleEndian: values[i].bitPattern)) }
            } else {
                guard t.floatData.count == count else { throw EngineError("\(file): tensor '\(t.name)' holds \(t.floatData.count) floats for \(count)") }
                values = t.floatData
            }
            floats[t.name] = (dims, values)
        case Int32(Onnx_TensorProto.DataType.int64.rawValue):
            var values: [Int]
            if !t.rawData.isEmpty {
                guard t.rawData.count == count * 8 else { throw EngineError("\(file): tensor '\(t.name)' holds \(t.rawData.count) bytes for \(count) int64s") }
                values = stride(from: 0, to: t.rawData.count, by: 8).map { o in
                    Int(Int64(littleEndian: t.rawData[t.rawData.startIndex + o ..< t.rawData.startIndex + o + 8].withUnsafeBytes { $0.loadUnaligned(as: Int64.self) }))
                }
            } else {
                guard t.int64Data.count == count else { throw EngineError("\(file): tensor '\(t.name)' holds \(t.int64Data.count) int64s for \(count)") }
                values = t.int64Data.map { Int($0) }
            }
            integers[t.name] = values
        default:
            throw EngineError("\(file): tensor '\(t.name)' is of ONNX type \(t.dataType), not float32 (1): mlpsh reads float32 weights")
        }
    }

    /// The layers from the graph's input to its output.
    mutating func read() throws -> [ImportedLayer] {
        let (layers, end, _) = try chain(from: input, shape: inputShape, until: nil)
        guard end == output else { throw EngineError("\(file): the chain of layers ends at '\(end)', not at the graph's output '\(output)'") }
        guard !layers.isEmpty else { throw EngineError("\(file): the graph computes nothing from its input") }
        return layers
    }

    /// The layers from value `start` until `join` reads the chain's value (or the value is no
    /// node's input); returns them, the last value and its shape.
    mutating func chain(from start: String, shape start0: [Int], until join: Int?) throws -> ([ImportedLayer], String, [Int]) {
        var value = start, shape = start0, layers: [ImportedLayer] = []
        while true {
            let readers = (consumers[value] ?? []).filter { !taken.contains($0) }
            if readers.isEmpty || (readers.count == 1 && readers[0] == join) { return (layers, value, shape) }
            if readers.count == 1 {
                let n = readers[0]
                if let join, n > join { throw EngineError("\(file): node '\(nodes[n].name)' (\(nodes[n].opType)) is reached past the join of its branches") }
                for layer in try convert(n, value: value, shape: shape) {
                    shape = try outputShape(layer, shape)
                    layers.append(layer)
                }
                value = nodes[lastTaken].output[0]
                continue
            }
            // A fork: the first node every branch reaches is where they meet.
            let meet = try meeting(of: readers)
            let j = nodes[meet]
            var branches: [(from: String, layers: [ImportedLayer])] = []
            for r in readers where r != meet {
                let first = try convert(r, value: value, shape: shape)
                var branchShape = shape
                for layer in first { branchShape = try outputShape(layer, branchShape) }
                let (rest, end, _) = try chain(from: nodes[lastTaken].output[0], shape: branchShape, until: meet)
                branches.append((end, first + rest))
            }
            taken.insert(meet)
            // The branches in the order the join reads them; the fork's value itself is an empty one.
            var ordered: [[ImportedLayer]] = []
            for v in j.input {
                if v == value { ordered.append([]) } else if let b = branches.first(where: { $0.from == v }) { ordered.append(b.layers) } else {
                    throw EngineError("\(file): node '\(j.name)' (\(j.opType)) reads '\(v)', which is not one of the branches that meet there")
                }
            }
            switch j.opType {
            case "Add":
                guard ordered.count == 2 else { throw EngineError("\(file): node '\(j.name)' (Add) adds \(ordered.count) values; a residual adds two") }
                // mlpsh's residual is body(x) + shortcut(x), the shortcut the identity when empty.
                let (body, shortcut) = ordered[0].isEmpty ? (ordered[1], ordered[0]) : (ordered[0], ordered[1])
                layers.append(ImportedLayer(block: "residual", shortcut.isEmpty ? [body] : [body, shortcut]))
            case "Concat":
                let axis = int(j, "axis", 1)
                guard axis == 1 || axis == 1 - (shape.count + 1) else {
                    throw EngineError("\(file): node '\(j.name)' (Concat) joins along axis \(axis); mlpsh concatenates channels (axis 1)")
                }
                layers.append(ImportedLayer(block: "concat", ordered))
            default:
                throw EngineError("\(file): branches meet at node '\(j.name)' (\(j.opType)); mlpsh joins them with Add (residual) or Concat")
            }
            shape = try outputShape(layers[layers.count - 1], shape)
            value = j.output[0]
        }
    }

    /// The first node (in graph order) that every one of `readers` reaches.
    func meeting(of readers: [Int]) throws -> Int {
        var common: Set<Int>?
        for r in readers {
            var seen = Set<Int>(), stack = [r]
            while let n = stack.popLast() {
                guard seen.insert(n).inserted else { continue }
                for v in nodes[n].output { stack += consumers[v] ?? [] }
            }
            common = common.map { $0.intersection(seen) } ?? seen
        }
        guard let meet = common?.min() else {
            throw EngineError("\(file): the branches from node '\(nodes[readers[0]].name)' (\(nodes[readers[0]].opType)) never meet again")
        }
        return meet
    }

    /// The last node `convert` took (a MatMul's Add, or the node itself).
    var lastTaken = 0

    func int(_ n: Onnx_NodeProto, _ key: String, _ fallback: Int) -> Int {
        n.attribute.first { $0.name == key }.map { Int($0.i) } ?? fallback
    }
    func ints(_ n: Onnx_NodeProto, _ key: String) -> [Int]? {
        n.attribute.first { $0.name == key }.map { $0.ints.map { Int($0) } }
    }
    func float(_ n: Onnx_NodeProto, _ key: String, _ fallback: Float) -> Float {
        n.attribute.first { $0.name == key }.map(\.f) ?? fallback
    }

    /// The output shape of a layer read from the graph, by building it.
    func outputShape(_ layer: ImportedLayer, _ shape: [Int]) throws -> [Int] {
        do {
            return try Sequential.build([layer.spec], inputShape: shape, random: RandomGenerator(seed: 0)).layers[0].outputShape
        } catch let e as LayerBuildError {
            throw EngineError("\(file): \(layer.spec.text) does not fit its input \(shape): \(e.message)")
        }
    }
}
