import Foundation

/// max(0, x).
public final class ReLU: ElementwiseLayer {
    public init(shape: [Int]) { super.init(kind: "relu", shape: shape) }
    override public var onnxOperator: (op: String, attributes: [ONNXGraph.Attribute])? { ("Relu", []) }
    override public func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        Kernels.relu(x, y, n)
    }
    override public func derivative(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                                    _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        Kernels.reluBackward(x, dy, dx, n)
    }
}

/// x for x > 0, slope·x otherwise (nn.LeakyReLU, slope 0.01 by default).
public final class LeakyReLU: ElementwiseLayer {
    public let slope: Float
    public init(shape: [Int], slope: Float) {
        self.slope = slope
        super.init(kind: "leaky_relu", shape: shape)
    }
    override public var spec: Spec { Spec(name, options: [("slope", "\(slope)")]) }
    override public var onnxOperator: (op: String, attributes: [ONNXGraph.Attribute])? { ("LeakyRelu", [.float("alpha", slope)]) }
    override public func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = x[i] > 0 ? x[i] : x[i] * slope }
    }
    override public func derivative(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                                    _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { dx[i] = x[i] > 0 ? dy[i] : dy[i] * slope }
    }
}

/// 1 / (1 + e^-x).
public final class Sigmoid: ElementwiseLayer {
    public init(shape: [Int]) { super.init(kind: "sigmoid", shape: shape) }
    override public var onnxOperator: (op: String, attributes: [ONNXGraph.Attribute])? { ("Sigmoid", []) }
    override public func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = 1 / (1 + expf(-x[i])) }
    }
    override public func derivative(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                                    _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { dx[i] = dy[i] * y[i] * (1 - y[i]) }
    }
}

/// tanh(x).
public final class Tanh: ElementwiseLayer {
    public init(shape: [Int]) { super.init(kind: "tanh", shape: shape) }
    override public var onnxOperator: (op: String, attributes: [ONNXGraph.Attribute])? { ("Tanh", []) }
    override public func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = tanhf(x[i]) }
    }
    override public func derivative(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                                    _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { dx[i] = dy[i] * (1 - y[i] * y[i]) }
    }
}

extension ReLU {
    static func make(_ a: LayerArguments) throws -> Layer { try makeElementwise(a, kind: "relu") { ReLU(shape: $0) } }
}
extension Sigmoid {
    static func make(_ a: LayerArguments) throws -> Layer { try makeElementwise(a, kind: "sigmoid") { Sigmoid(shape: $0) } }
}
extension Tanh {
    static func make(_ a: LayerArguments) throws -> Layer { try makeElementwise(a, kind: "tanh") { Tanh(shape: $0) } }
}
extension LeakyReLU {
    static func make(_ a: LayerArguments) throws -> Layer {
        try makeElementwise(a, kind: "leaky_relu") { LeakyReLU(shape: $0, slope: try a.options.float("slope")) }
    }
}

// MARK: - Its registry entry

extension ReLU {
    public static let entry = RegistryEntry<LayerFactory>(name: "relu", summary: "max(0, x)", example: "relu", make: ReLU.make)
}

// MARK: - Its registry entry

extension Sigmoid {
    public static let entry = RegistryEntry<LayerFactory>(name: "sigmoid", summary: "1 / (1 + exp(-x))", example: "sigmoid", make: Sigmoid.make)
}

// MARK: - Its registry entry

extension Tanh {
    public static let entry = RegistryEntry<LayerFactory>(name: "tanh", summary: "tanh(x)", example: "tanh", make: Tanh.make)
}

// MARK: - Its registry entry

extension LeakyReLU {
    public static let entry = RegistryEntry<LayerFactory>(name: "leaky_relu", summary: "x if x > 0, else slope·x",
            options: [OptionSpec("slope", "0.01", "the slope for negative inputs")],
            example: "leaky_relu slope=0.1", make: LeakyReLU.make)
}
