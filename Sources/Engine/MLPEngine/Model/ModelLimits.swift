/// How large a model may be, checked as it is built and before a batch runs, so that a
/// description from a word or a file is refused with a message instead of exhausting memory.
/// Every buffer a layer allocates (weights, outputs, a convolution's columns) is counted
/// before it is allocated. An embedding program may lower them; the fuzz target does.
public struct ModelLimits: Sendable, Equatable {
    /// Weights in the whole model (2^28 floats is 1 GiB; training keeps a gradient and
    /// optimizer state beside each).
    public var parameters: Int
    /// Values in one sample's outputs across all layers (each layer keeps its own).
    public var sampleFloats: Int
    /// Floats in any one buffer: a batch's output of one layer, a convolution's columns.
    public var bufferFloats: Int
    /// Floats a batch's activations take across the model (2^30: 4 GiB).
    public var batchFloats: Int

    public init(parameters: Int = 1 << 28, sampleFloats: Int = 1 << 28, bufferFloats: Int = 1 << 28, batchFloats: Int = 1 << 30) {
        self.parameters = parameters
        self.sampleFloats = sampleFloats
        self.bufferFloats = bufferFloats
        self.batchFloats = batchFloats
    }

    public static let standard = ModelLimits()
}
