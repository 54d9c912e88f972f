/// A trainable value and the gradient that backward passes accumulate into it. Made on its
/// own storage; a model moves every parameter into its flat buffers (`Sequential`), after
/// which `value` and `grad` are views of them.
///
/// Zeroing is lazy, as PyTorch's `zero_grad(set_to_none=True)`: `clearGradient()` only marks
/// the gradient, and the first access to `grad` zeroes it, so a layer that accumulates with
/// `+=` always starts from zero. A layer that writes its whole gradient in one product asks
/// `gradientForWriting()` instead and skips the fill (beta 0 instead of 1).
public final class Parameter {
    /// The name within its layer: "weight" or "bias".
    public let name: String
    public let value: Tensor
    private let gradient: Tensor
    /// Set by `clearGradient()`: the stored values are stale and read as zero.
    private var cleared = false

    /// The gradient, zero after `clearGradient()` until backward adds to it.
    public var grad: Tensor {
        if cleared {
            cleared = false
            gradient.fill(0)
        }
        return gradient
    }

    /// Marks the gradient as zero without writing it.
    public func clearGradient() { cleared = true }

    /// The gradient tensor and the beta a product writing into it must use: 0 when the
    /// gradient was cleared (the product overwrites it), 1 otherwise (it adds).
    public func gradientForWriting() -> (tensor: Tensor, beta: Float) {
        defer { cleared = false }
        return (gradient, cleared ? 0 : 1)
    }

    /// A parameter of any rank, zeroed: [out, in] for a linear weight, [out, in, k, k] for a
    /// convolution's, [count] for a bias. This is the shape a checkpoint gives it, as
    /// PyTorch's state_dict does.
    public init(name: String, shape: [Int]) {
        self.name = name
        value = Tensor(shape: shape)
        gradient = Tensor(shape: shape)
    }

    /// A matrix parameter, [rows, cols].
    public convenience init(name: String, rows: Int, cols: Int) { self.init(name: name, shape: [rows, cols]) }

    /// A vector parameter of `count` values (a bias, a scale).
    public convenience init(name: String, count: Int) { self.init(name: name, shape: [count]) }

    public var shape: [Int] { value.shape }
    public var count: Int { value.count }
    /// Inputs a unit sees (PyTorch's fan_in): the product of the axes after the first.
    public var fanIn: Int { shape.count < 2 ? count : value.count(from: 1) }
    /// Outputs a unit feeds (fan_out): shape[0] times the receptive field (axes after the second).
    public var fanOut: Int { shape.count < 2 ? count : shape[0] * value.count(from: 2) }
}

/// State a layer keeps and a checkpoint saves, but that is not trained (batch norm's running
/// statistics): F32 values in a tensor, or I64 counters.
public final class Buffer {
    public enum Values {
        case f32(Tensor)
        case i64([Int64])
    }
    public let name: String
    public let shape: [Int]
    public var values: Values

    public init(name: String, shape: [Int], floats: Tensor) {
        self.name = name
        self.shape = shape
        values = .f32(floats)
    }

    public init(name: String, shape: [Int], integers: [Int64]) {
        self.name = name
        self.shape = shape
        values = .i64(integers)
    }

    /// "F32" or "I64", as safetensors names them.
    public var dtype: String {
        switch values { case .f32: "F32"; case .i64: "I64" }
    }

    public var count: Int { shape.reduce(1, *) }
}
