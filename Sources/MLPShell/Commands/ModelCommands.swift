import MLPEngine

func modelCommands() -> [Command] {
    [
        Command(name: "model", group: "Model", usage: "model ... end",
                summary: "defines the model: one layer a line, then 'end'",
                details: "Each line is a layer from the registry ('help linear'). 'linear OUT' takes its input width from\nthe layer before, or from the 'train' data; 'linear IN OUT' states it. Blocks nest, each closed\nby its own 'end': residual LAYERS [shortcut LAYERS] end; concat LAYERS branch LAYERS ... end.",
                example: "model\n  linear 784 120\n  relu\n  linear 120 10\nend",
                run: { _, _, _ in }),
        Command(name: "summary", group: "Model", usage: "summary",
                summary: "one row a layer: name, output shape, parameters; then the totals",
                example: "summary", run: { inv, _, s in
                    try expectArguments(inv, 0...0, usage: "summary")
                    s.console.write(summaryTable(try s.requireModel()))
                }),
        Command(name: "init", group: "Model", usage: "init SCHEME [KEY=VALUE ...]",
                summary: "re-initialises the weights of every layer with a weight matrix (linear, conv2d, ...)",
                details: "Schemes: " + Registries.shared.initializers.names.joined(separator: ", ") + " ('help SCHEME').",
                arguments: [.initializer], example: "init xavier_uniform", delegatesOptions: true, run: { inv, _, s in
                    try expectArguments(inv, 1...1, usage: "init SCHEME")
                    let model = try s.requireModel()
                    let scheme: InitScheme = try s.registries.initializers.make(inv.componentSpec)
                    for layer in model.allLayers {
                        guard let weight = layer.parameters.first(where: { $0.name == "weight" && $0.shape.count >= 2 }) else { continue }
                        try scheme.apply(weight, layer.parameters.first { $0.name == "bias" }, s.random)
                    }
                }),
    ]
}

/// The model as a table, in the manner of Keras's model.summary().
func summaryTable(_ model: Sequential) -> String {
    var rows: [(String, String, String)] = [("Layer", "Output shape", "Param #")]
    // A block's layers follow it, indented, named as their weights are ("body.0").
    func add(_ name: String, _ layer: Layer, indent: String) {
        rows.append(("\(indent)\(name) \(layer.title)", "[-1, " + layer.outputShape.map(String.init).joined(separator: ", ") + "]",
                     grouped(layer.parameterCount)))
        for (sub, inner) in layer.sublayers { add(sub, inner, indent: indent + "  ") }
    }
    for (i, layer) in model.layers.enumerated() { add(String(i), layer, indent: "") }
    let w0 = rows.map(\.0.count).max()! + 2, w1 = rows.map(\.1.count).max()! + 2
    let w2 = rows.map(\.2.count).max()!
    let rule = String(repeating: "─", count: w0 + w1 + w2)
    var out = ""
    for (i, r) in rows.enumerated() {
        out += r.0.padding(toLength: w0, withPad: " ", startingAt: 0) + r.1.padding(toLength: w1, withPad: " ", startingAt: 0)
            + String(repeating: " ", count: w2 - r.2.count) + r.2 + "\n"
        if i == 0 { out += rule + "\n" }
    }
    out += rule + "\n"
    out += "Input shape: [-1, " + model.inputShape.map(String.init).joined(separator: ", ") + "]\n"
    out += "Total params: \(grouped(model.parameterCount))\n"
    out += "Trainable params: \(grouped(model.parameterCount))\n"
    return out
}

/// 105214 → "105,214".
func grouped(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, ch) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return out
}
