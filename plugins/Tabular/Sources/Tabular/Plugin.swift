import MLPEngine

/// The entry point mlpsh calls after loading the library: one entry in four registries.
@_cdecl("mlpsh_plugin_init")
public func mlpshPluginInit(_ host: UnsafeMutableRawPointer) -> Int32 {
    PluginHost.connect(host, plugin: "Tabular", builtAgainst: engineVersion) { r in
        try r.datasets.register(.init(
            name: "csv", summary: "a CSV file of numbers with a label column (path=, label=, header=, separator=, limit=)",
            options: [OptionSpec("path", "", "the CSV file"),
                      OptionSpec("label", "label", "the label column: its header name, its index from 0, or last"),
                      OptionSpec("header", "true", "whether the first row names the columns"),
                      OptionSpec("separator", ",", "the field separator"),
                      OptionSpec("limit", "", "use only the first N rows")],
            details: "Every column but the label is a feature. Integer labels 0..K-1 are classes as they are; other labels\nare named classes, numbered in sorted order.",
            example: "data train csv path=iris.csv label=species", make: CSVDataset.load))
        try r.layers.register(.init(
            name: "layer_norm", summary: "normalises each sample's features to mean 0, variance 1, then scales and shifts (learned)",
            options: [OptionSpec("eps", "1e-5", "added to the variance")],
            example: "layer_norm", make: LayerNorm.make))
        try r.losses.register(.init(
            name: "focal", summary: "−(1 − p_t)^gamma · log p_t on logits: cross-entropy that down-weights easy samples",
            options: [OptionSpec("gamma", "2", "the focusing power; 0 is cross-entropy"), reductionSpec],
            example: "loss focal gamma=2", make: FocalLoss.make))
        try r.optimizers.register(.init(
            name: "lion", summary: "sign of an interpolated momentum (Chen et al. 2023)",
            options: [OptionSpec("lr", "0.0001", "the learning rate"), OptionSpec("beta1", "0.9", "interpolation for the update"),
                      OptionSpec("beta2", "0.99", "the momentum's decay"), OptionSpec("weight_decay", "0", "decoupled weight decay")],
            example: "optim lion lr=0.0003", make: Lion.make))
    }
}
