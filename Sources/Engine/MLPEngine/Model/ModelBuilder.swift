/// A layer that could not be built: which one (its index in the description, counting every
/// layer and block in the order a model block writes them, see `Spec.flattened`) and why.
public struct LayerBuildError: Error, CustomStringConvertible {
    public let index: Int
    public let message: String
    /// What to type at mlpsh's prompt to put it right (see EngineError.hint).
    public var hint: String? = nil
    public var description: String { message }
    public var shellText: String { hint.map { "\(message): \($0)" } ?? message }
}

extension Sequential {
    /// The largest number of weights a whole model may have.
    public static let maximumParameters = maximumLayerParameters

    /// Builds a model from its description, each layer made by the registry from its spec
    /// with the shape the layer before gives (the first gets `inputShape`, the data's sample
    /// shape, when known); blocks build their nested lists the same way. Nothing is run but
    /// the registry's factories. An error names the layer's index, so a script can report it
    /// at the layer's line.
    public static func build(_ specs: [Spec], inputShape: [Int]?, registries: Registries = .shared,
                             random: RandomGenerator, limits: ModelLimits = .standard) throws -> Sequential {
        guard !specs.isEmpty else {
            throw LayerBuildError(index: 0, message: "the model has no layers: put layers between 'model' and 'end'")
        }
        let builder = LayerListBuilder(registries: registries, random: random, limits: limits)
        let (layers, modelInput) = try builder.build(specs, inputShape: inputShape, firstIndex: 0)
        let model = Sequential(layers: layers, inputShape: modelInput ?? [])
        model.limits = limits
        return model
    }
}

/// Builds lists of layers from specs, for a model and for the lists inside its blocks,
/// counting what they take together against the model's limits.
public final class LayerListBuilder {
    let registries: Registries
    let random: RandomGenerator
    let limits: ModelLimits
    private var parameters = 0, activations = 0, depth = 0
    /// How deep blocks may nest.
    public static let maximumDepth = 32

    init(registries: Registries, random: RandomGenerator, limits: ModelLimits) {
        self.registries = registries
        self.random = random
        self.limits = limits
    }

    /// The layers `specs` describe, fed `inputShape`, and the input shape the list turned out
    /// to take (from a first `linear IN OUT` when `inputShape` is nil). `firstIndex` is the
    /// first spec's index in the whole description.
    public func build(_ specs: [Spec], inputShape: [Int]?, firstIndex: Int) throws -> (layers: [Layer], inputShape: [Int]?) {
        var shape = inputShape, listInput = inputShape
        var layers: [Layer] = []
        var index = firstIndex
        for spec in specs {
            do {
                let isBlock = try registries.layers.lookup(spec.name).separator != nil
                if isBlock, depth >= Self.maximumDepth { throw EngineError("blocks are nested more than \(Self.maximumDepth) deep") }
                var left = limits
                left.parameters = limits.parameters - parameters
                let blockIndex = index
                let layer: Layer = try registries.layers.make(
                    spec, inputShape: shape, random: random, limits: left, registries: registries,
                    buildList: { [unowned self] section, sectionInput in
                        let first = blockIndex + 1 + spec.blocks[..<section].reduce(0) { $0 + $1.reduce(0) { $0 + $1.flattened.count } }
                        depth += 1
                        defer { depth -= 1 }
                        return try build(spec.blocks[section], inputShape: sectionInput, firstIndex: first).layers
                    })
                if listInput == nil { listInput = layer.statedInputShape }
                if listInput == nil, layer.outputShape.isEmpty {
                    throw EngineError("\(spec.name): the input width is unknown; start the model with 'linear IN OUT' or load data first")
                }
                try count(layer, isBlock: isBlock, text: spec.text)
                layers.append(layer)
                shape = layer.outputShape
            } catch let e as EngineError {
                throw LayerBuildError(index: index, message: e.message, hint: e.hint)
            }
            index += spec.flattened.count
        }
        return (layers, listInput)
    }

    /// Adds a layer's output and weights to the model's totals, refusing what passes the
    /// limits. A block's own layers were counted as they were built.
    private func count(_ layer: Layer, isBlock: Bool, text: String) throws {
        // Shapes come from words and files: their sizes are checked before any product of
        // them can overflow, one sample's output and all outputs together.
        var size = 1
        for d in layer.outputShape {
            let (n, overflow) = size.multipliedReportingOverflow(by: max(d, 0))
            guard !overflow, n <= limits.sampleFloats else {
                throw EngineError("\(text) gives \(layer.outputShape) a sample, more than the \(limits.sampleFloats) values a layer's output may hold")
            }
            size = n
        }
        activations += size
        guard activations <= limits.sampleFloats else {
            throw EngineError("the model's layers give \(activations) values a sample together (each layer keeps its output), more than the \(limits.sampleFloats) a model may hold")
        }
        if !isBlock { parameters += layer.parameterCount }
        if parameters > limits.parameters {
            throw EngineError("the model has \(parameters) parameters, more than the \(limits.parameters) a model may have")
        }
    }
}
