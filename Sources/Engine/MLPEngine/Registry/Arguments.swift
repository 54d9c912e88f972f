/// What every registry's factory is given, whatever it makes (layer, loss, optimizer, dataset,
/// schedule, init): the words after the name, its options (checked against the entry's list),
/// and, where they matter, the shape of one input sample (from the layer before, or the
/// data), the random source, the model's limits and a block's lists of layers.
public struct Arguments {
    public let positional: [String]
    public let options: Options
    public let inputShape: [Int]?
    public let random: RandomGenerator
    /// What the model may still take: `parameters` is what the layers before left of the
    /// model's weights. A layer checks its buffers against it before allocating them.
    public var limits: ModelLimits
    /// A block's lists of layers as specs (see `Spec.blocks`); empty for a layer.
    public let blocks: [[Spec]]
    public let registries: Registries
    /// Builds the block's list `section` (an index into `blocks`) on an input of the given
    /// shape, counted against the model's limits; errors name the nested layer's line.
    private let buildList: (Int, [Int]?) throws -> [Layer]
    /// Where a factory says what it left out or changed (a dataset's skipped files); the shell
    /// prints it as a warning.
    public var warn: (String) -> Void = { _ in }

    public init(positional: [String] = [], options: Options, inputShape: [Int]? = nil, random: RandomGenerator = RandomGenerator(seed: 0),
                limits: ModelLimits = .standard, blocks: [[Spec]] = [], registries: Registries = .shared,
                buildList: ((Int, [Int]?) throws -> [Layer])? = nil) {
        self.positional = positional
        self.options = options
        self.inputShape = inputShape
        self.random = random
        self.limits = limits
        self.blocks = blocks
        self.registries = registries
        self.buildList = buildList ?? { section, shape in
            try LayerListBuilder(registries: registries, random: random, limits: limits)
                .build(blocks[section], inputShape: shape, firstIndex: 0).layers
        }
    }

    /// The layers of the block's list `section`, built on `inputShape`.
    public func buildBlock(_ section: Int, inputShape: [Int]?) throws -> [Layer] {
        try buildList(section, inputShape)
    }
}
