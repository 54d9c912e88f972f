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
    let (rest, part) = try Subset.split(source, fraction: fraction, seed: s.random.seed, name: name)
    s.datasets[from] = rest
    s.datasets[name] = part
    if s.atPrompt { s.console.print("\(name): \(printable(part.summary))\n\(from): \(printable(rest.summary))") }
}
