import MLPEngine

func dataCommands() -> [Command] {
    [
        Command(name: "data", group: "Data", usage: "data NAME SOURCE [KEY=VALUE ...] | data NAME from=SET fraction=F",
                summary: "loads a data set under NAME ('train' trains, 'val' validates, 'test' evaluates)",
                details: "SOURCE is a dataset from the registry; its options are listed by 'help SOURCE'.\n'data val from=train fraction=0.1' moves a random tenth of train into val (seeded by 'seed': the same\nseed, the same split). With no arguments, lists the data sets loaded.",
                arguments: [.word, .dataset], example: "data train mnist split=train",
                delegatesOptions: true, run: { inv, _, s in
                    if inv.positional.isEmpty && inv.options.isEmpty {
                        for name in s.datasets.keys.sorted() { s.console.print("\(name): \(printable(s.datasets[name]!.summary))") }
                        return
                    }
                    if inv.positional.count == 1, let from = inv.options["from"] {
                        try splitData(inv, from: from, s)
                        return
                    }
                    try expectArguments(inv, 2...2, usage: "data NAME SOURCE [KEY=VALUE ...]")
                    let name = inv.positional[0], source = inv.positional[1]
                    guard Lexer.isVariableName(name) else { throw EngineError("'\(name)' is not a data set name (letters, digits and _)") }
                    let data: Dataset = try s.registries.datasets.make(Spec(source, options: inv.sortedOptions), random: s.random,
                                                                       warn: { s.console.writeError("warning: \(printable($0))\n") })
                    s.datasets[name] = data
                    if s.atPrompt { s.console.print("\(name): \(printable(data.summary))") }
                }),
        Command(name: "augment", group: "Data", usage: "augment NAME [crop=SIZE padding=P] [hflip=PROB] [rotate=DEGREES] [translate=FRACTION]",
                summary: "random transforms of data set NAME's images each time a training batch draws them",
                details: "As torchvision's RandomCrop(SIZE, padding=P), RandomHorizontalFlip(PROB), RandomRotation(DEGREES)\nand RandomAffine(translate=FRACTION): rotation and shift first (bilinear, zeros outside), then the\ncrop, then the flip. Only training draws from NAME ('augment train'); val and test are never\naugmented. Seeded by 'seed' (the same seed, the same images), on the cores that fill the batch.",
                options: [OptionSpec("crop", "", "the crop's size: the image's own (a shift by up to padding)"),
                          OptionSpec("padding", "0", "zeros around the image before the crop"),
                          OptionSpec("hflip", "0", "the probability of a horizontal flip"),
                          OptionSpec("rotate", "0", "the largest rotation, in degrees, either way"),
                          OptionSpec("translate", "0", "the largest shift, a fraction of the width and height")],
                arguments: [.word], example: "augment train crop=28 padding=2 rotate=10", run: { inv, o, s in
                    try expectArguments(inv, 1...1, usage: "augment NAME [crop=SIZE padding=P] [hflip=PROB] [rotate=DEGREES] [translate=FRACTION]")
                    let data = try s.requireDataset(inv.positional[0])
                    if data is Augmented || (data as? Normalized)?.base is Augmented {
                        throw EngineError("'\(inv.positional[0])' is augmented already: load it again first")
                    }
                    var a = Augmentation()
                    a.padding = try o.int("padding", min: 0, max: 1024)
                    if o.has("crop") {
                        let size = try o.int("crop", min: 1, max: 1 << 16)
                        guard data.sampleShape.count == 3, data.sampleShape[1] == size, data.sampleShape[2] == size else {
                            throw EngineError("augment: crop=\(size) must be the images' own size (\(data.sampleShape.dropFirst().map(String.init).joined(separator: "x"))): it crops the padded image back")
                        }
                    }
                    a.flipProbability = try o.double("hflip", min: 0, max: 1)
                    a.degrees = try o.double("rotate", min: 0, max: 180)
                    a.translate = try o.double("translate", min: 0, max: 1)
                    // Transforms come before normalisation, as in torchvision's pipelines (the padding's
                    // zeros are black, not the mean).
                    if let n = data as? Normalized {
                        s.datasets[inv.positional[0]] = try Normalized(try Augmented(n.base, a, seed: s.random.seed), n.normalization)
                    } else {
                        s.datasets[inv.positional[0]] = try Augmented(data, a, seed: s.random.seed)
                    }
                }),
        Command(name: "normalize", group: "Data", usage: "normalize NAME mean=M[,M...] std=S[,S...]",
                summary: "(x − mean) / std for each channel of data set NAME's samples (transforms.Normalize)",
                details: "One mean and std for every channel, or one of each a channel. Normalize each set the model sees\n(train, val, test) alike: the last one given is saved with the model, and 'predict' applies it to\nthe images it reads. Loading NAME again loads it unnormalised. With no arguments, shows it.",
                options: [OptionSpec("mean", "", "M or M1,M2,... (a channel each)"), OptionSpec("std", "", "S or S1,S2,... (above 0)")],
                arguments: [.word], example: "normalize train mean=0.1307 std=0.3081", run: { inv, o, s in
                    if inv.positional.isEmpty && inv.options.isEmpty {
                        s.console.print(s.normalization.map(\.text) ?? "no normalization")
                        return
                    }
                    try expectArguments(inv, 1...1, usage: "normalize NAME mean=M std=S")
                    guard o.has("mean"), o.has("std") else { throw EngineError("normalize needs mean= and std=") }
                    let data = try s.requireDataset(inv.positional[0])
                    if data is Normalized { throw EngineError("'\(inv.positional[0])' is normalized already: load it again first") }
                    let n = try Normalization(mean: try o.floats("mean") ?? [], std: try o.floats("std") ?? [])
                    s.datasets[inv.positional[0]] = try Normalized(data, n)
                    s.normalization = n
                }),
    ]
}

/// `data NAME from=SET fraction=F`: a seeded random part of SET becomes NAME, and SET keeps the rest.
private func splitData(_ inv: Invocation, from: String, _ s: Session) throws {
    let name = inv.positional[0]
    guard Lexer.isVariableName(name) else { throw EngineError("'\(name)' is not a data set name (letters, digits and _)") }
    guard name != from else { throw EngineError("data \(name) from=\(from): a set cannot be split into itself") }
    if let other = inv.options.keys.sorted().first(where: { $0 != "from" && $0 != "fraction" }) {
        throw EngineError("data \(name) from=\(from): unknown option '\(other)=' (from= and fraction= only)")
    }
    guard let text = inv.options["fraction"] else { throw EngineError("data \(name) from=\(from) needs fraction=F, the part to move (0.1: a tenth)") }
    guard let fraction = Double(text), fraction.isFinite else { throw EngineError("fraction=\(text) is not a number") }
    let source = try s.requireDataset(from)
    if source is Augmented { throw EngineError("data \(name) from=\(from): split before 'augment', so that \(name) is not augmented") }
    let (rest, part) = try Subset.split(source, fraction: fraction, seed: s.random.seed, name: name)
    s.datasets[from] = rest
    s.datasets[name] = part
    if s.atPrompt { s.console.print("\(name): \(printable(part.summary))\n\(from): \(printable(rest.summary))") }
}
