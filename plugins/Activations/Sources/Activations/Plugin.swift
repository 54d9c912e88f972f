import MLPEngine

/// The entry point mlpsh calls after loading the library: it registers the five layers.
@_cdecl("mlpsh_plugin_init")
public func mlpshPluginInit(_ host: UnsafeMutableRawPointer) -> Int32 {
    PluginHost.connect(host, plugin: "Activations", builtAgainst: engineVersion) { registries in
        let layers = registries.layers
        try layers.register(.init(
            name: "gelu", summary: "x·Φ(x), Φ the normal CDF (erf form; approximate=tanh for the tanh form)",
            options: [OptionSpec("approximate", "none", "none (erf) or tanh, as torch.nn.GELU")],
            example: "gelu approximate=tanh", make: { a in
                let form = a.options.string("approximate")
                guard form == "none" || form == "tanh" else {
                    throw EngineError("gelu approximate=\(form): expected none or tanh")
                }
                return try makeElementwise(a, kind: "gelu") { GELU(shape: $0, tanhForm: form == "tanh") }
            }))
        try layers.register(.init(
            name: "silu", summary: "x·σ(x) (swish)", example: "silu",
            make: { a in try makeElementwise(a, kind: "silu") { SiLU(shape: $0) } }))
        try layers.register(.init(
            name: "elu", summary: "x if x > 0, else alpha·(exp(x) − 1)",
            options: [OptionSpec("alpha", "1.0", "the scale of the negative part")], example: "elu alpha=1.0",
            make: { a in try makeElementwise(a, kind: "elu") { ELU(shape: $0, alpha: try a.options.float("alpha", min: 0)) } }))
        try layers.register(.init(
            name: "softplus", summary: "log(1 + exp(beta·x)) / beta, x itself where beta·x > threshold",
            options: [OptionSpec("beta", "1", "the sharpness"), OptionSpec("threshold", "20", "above beta·x, the layer is x")],
            example: "softplus beta=2",
            make: { a in
                try makeElementwise(a, kind: "softplus") {
                    Softplus(shape: $0, beta: try a.options.float("beta", min: 0, minExclusive: true), threshold: try a.options.float("threshold"))
                }
            }))
        try layers.register(.init(
            name: "mish", summary: "x·tanh(softplus(x))", example: "mish",
            make: { a in try makeElementwise(a, kind: "mish") { Mish(shape: $0) } }))
    }
}
