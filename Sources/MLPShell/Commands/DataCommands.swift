import MLPEngine

func dataCommands() -> [Command] {
    [
        Command(name: "data", group: "Data", usage: "data NAME SOURCE [KEY=VALUE ...]",
                summary: "loads a data set under NAME ('train' trains, 'test' evaluates)",
                details: "SOURCE is a dataset from the registry; its options are listed by 'help SOURCE'.\nWith no arguments, lists the data sets loaded.",
                arguments: [.word, .dataset], example: "data train mnist split=train",
                delegatesOptions: true, run: { inv, _, s in
                    if inv.positional.isEmpty && inv.options.isEmpty {
                        for name in s.datasets.keys.sorted() { s.console.print("\(name): \(printable(s.datasets[name]!.summary))") }
                        return
                    }
                    try expectArguments(inv, 2...2, usage: "data NAME SOURCE [KEY=VALUE ...]")
                    let name = inv.positional[0], source = inv.positional[1]
                    guard Lexer.isVariableName(name) else { throw EngineError("'\(name)' is not a data set name (letters, digits and _)") }
                    let data: Dataset = try s.registries.datasets.make(Spec(source, options: inv.sortedOptions), random: s.random)
                    s.datasets[name] = data
                    if s.atPrompt { s.console.print("\(name): \(printable(data.summary))") }
                }),
    ]
}
