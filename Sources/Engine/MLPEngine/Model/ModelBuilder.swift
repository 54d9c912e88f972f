/// A layer that could not be built: which one (its index in the description) and why.
public struct LayerBuildError: Error, CustomStringConvertible {
    public let index: Int
    public let message: String
    public var description: String { message }
}

extension Sequential {
    /// The largest number of weights a whole model may have.
    public static let maximumParameters = maximumLayerParameters

    /// Builds a model from its description, each layer made by the registry from its spec
    /// with the shape the layer before gives (the first gets `inputShape`, the data's sample
    /// shape, when known). Nothing is run but the registry's factories. An error names the
    /// layer's index, so a script can report it at the layer's line.
    public static func build(_ specs: [Spec], inputShape: [Int]?, registries: Registries = .shared,
                             random: RandomGenerator, limits: ModelLimits = .standard) throws -> Sequential {
        guard !specs.isEmpty else {
            throw LayerBuildError(index: 0, message: "the model has no layers: put layers between 'model' and 'end'")
        }
        var shape = inputShape
        var modelInput = inputShape
        var layers: [Layer] = []
        var total = 0, activations = 0
        for (index, spec) in specs.enumerated() {
            do {
                let entry = try registries.layers.lookup(spec.name)
                let options = try Options(spec.optionValues, specs: entry.options, owner: spec.name)
                var left = limits
                left.parameters = limits.parameters - total
                let layer = try entry.make(LayerArguments(positional: spec.args, options: options,
                                                          inputShape: shape, random: random, limits: left))
                if modelInput == nil, let linear = layer as? Linear { modelInput = [linear.inputWidth] }
                if modelInput == nil, layer.outputShape.isEmpty {
                    throw EngineError("\(spec.name): the input width is unknown; start the model with 'linear IN OUT' or load data first")
                }
                // Shapes come from words and files: their sizes are checked before any product
                // of them can overflow, one sample's output and all outputs together.
                var size = 1
                for d in layer.outputShape {
                    let (n, overflow) = size.multipliedReportingOverflow(by: max(d, 0))
                    guard !overflow, n <= limits.sampleFloats else {
                        throw EngineError("\(spec.text) gives \(layer.outputShape) a sample, more than the \(limits.sampleFloats) values a layer's output may hold")
                    }
                    size = n
                }
                activations += size
                guard activations <= limits.sampleFloats else {
                    throw EngineError("the model's layers give \(activations) values a sample together (each layer keeps its output), more than the \(limits.sampleFloats) a model may hold")
                }
                layers.append(layer)
                shape = layer.outputShape
                total += layer.parameterCount
                if total > limits.parameters {
                    throw EngineError("the model has \(total) parameters, more than the \(limits.parameters) a model may have")
                }
            } catch let e as EngineError {
                throw LayerBuildError(index: index, message: e.message)
            }
        }
        let model = Sequential(layers: layers, inputShape: modelInput ?? [])
        model.limits = limits
        return model
    }
}
