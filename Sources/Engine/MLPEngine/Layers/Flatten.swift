/// Flattens each sample to one row, as `x.view(x.size(0), -1)`. The engine keeps samples as
/// rows already, so this changes only the shape the next layer sees.
public final class Flatten: Layer {
    public let kind = "flatten"
    private let width: Int
    public var isTraining = true
    public var needsInputGradient = true

    public init(shape: [Int]) { width = shape.reduce(1, *) }

    public var definition: String { "flatten" }
    public var outputShape: [Int] { [width] }
    public var parameters: [Parameter] { [] }
    public func forward(_ x: Tensor) -> Tensor { x }
    public func backward(_ gy: Tensor) -> Tensor { gy }

    static func make(_ a: LayerArguments) throws -> Layer {
        try makeElementwise(a, kind: "flatten") { Flatten(shape: $0) }
    }
}
