import Foundation
import MLPEngine

/// x · σ(βx).
final class Swish: ElementwiseLayer {
    let beta: Float
    init(shape: [Int], beta: Float) {
        self.beta = beta
        super.init(kind: "swish", shape: shape)
    }
    override var spec: Spec { Spec(name, options: [("beta", "\(beta)")]) }
    override func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = x[i] / (1 + expf(-beta * x[i])) }
    }
    override func derivative(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                             _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n {
            let s = 1 / (1 + expf(-beta * x[i]))
            dx[i] = dy[i] * (s + beta * x[i] * s * (1 - s))
        }
    }
}

@_cdecl("mlpsh_plugin_init")
public func mlpshPluginInit(_ host: UnsafeMutableRawPointer) -> Int32 {
    PluginHost.connect(host, plugin: "Swish", builtAgainst: engineVersion) { registries in
        try registries.layers.register(.init(
            name: "swish", summary: "x·σ(beta·x)",
            options: [OptionSpec("beta", "1", "the slope of the gate")], example: "swish beta=1.5",
            make: { a in try makeElementwise(a, kind: "swish") { Swish(shape: $0, beta: try a.options.float("beta")) } }))
    }
}
