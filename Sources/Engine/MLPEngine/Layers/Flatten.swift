/// Flattens each sample to one row, as `x.view(x.size(0), -1)`. The engine keeps samples as
/// rows already, so this changes only the shape the next layer sees.
public final class Flatten: Layer {
    public let name = "flatten"
    private let width: Int
    public var isTraining = true
    public var needsInputGradient = true

    public init(shape: [Int]) { width = shape.reduce(1, *) }

    public var spec: Spec { Spec(name) }
    public var outputShape: [Int] { [width] }
    public var parameters: [Parameter] { [] }
    private let output = Tensor()
    private let gradInput = Tensor()
    private var inputShape: [Int] = []

    /// The same values, viewed as [B, width]: a copy, since tensors own their storage.
    public func forward(_ x: Tensor) -> Tensor {
        inputShape = x.shape
        guard x.shape.count > 2 else { return x }
        output.reshape(rows: x.rows, cols: x.cols)
        output.data.update(from: x.data, count: x.count)
        return output
    }

    public func backward(_ gy: Tensor) -> Tensor {
        guard inputShape.count > 2 else { return gy }
        gradInput.reshape(inputShape)
        gradInput.data.update(from: gy.data, count: gy.count)
        return gradInput
    }

    static func make(_ a: LayerArguments) throws -> Layer {
        try makeElementwise(a, kind: "flatten") { Flatten(shape: $0) }
    }
}

// MARK: - Its registry entry

extension Flatten {
    public static let entry = RegistryEntry<LayerFactory>(name: "flatten", summary: "each sample to one row (x.view(B, -1))",
            example: "flatten", make: Flatten.make)
}
