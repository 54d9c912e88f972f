import MLPEngine

/// A `model ... end` block's lines as layer specs. A layer is one line; a block layer
/// (`residual`, `concat`: a registry entry with a separator) runs from its line to its `end`,
/// its lists of layers separated by its separator word (`shortcut`, `branch`), and nests.
enum ModelText {
    typealias Line = (words: [Word], location: SourceLocation?)

    /// The specs, and each spec's line in the order `Spec.flattened` counts them, for errors.
    static func specs(_ lines: [Line], registries: Registries) throws -> (specs: [Spec], locations: [SourceLocation?]) {
        var reader = Reader(lines: lines, registries: registries)
        let specs = try reader.list(closedBy: [])
        return (specs, reader.locations)
    }

    private struct Reader {
        let lines: [Line]
        let registries: Registries
        var at = 0
        var locations: [SourceLocation?] = []

        /// Specs up to (not including) a line whose first word is one of `closers`, or the end.
        mutating func list(closedBy closers: Set<String>) throws -> [Spec] {
            var specs: [Spec] = []
            while at < lines.count {
                let (words, location) = lines[at]
                let first = words[0]
                if !first.quoted, closers.contains(first.text) { return specs }
                at += 1
                let inv = Invocation(words: words, location: location)
                if let key = inv.repeatedOption { throw ShellError("option '\(key)=' is given twice", at: location) }
                if !first.quoted, first.text == "end" || isSeparator(first.text) {
                    throw ShellError("'\(first.text)' outside a block that takes it\(first.text == "end" ? "" : " (residual takes 'shortcut', concat takes 'branch')")", at: location)
                }
                let options = inv.options.keys.sorted().map { (key: $0, value: inv.options[$0]!) }
                var spec = Spec(inv.name, args: inv.positional, options: options)
                locations.append(location)
                if let separator = (try? registries.layers.lookup(inv.name))?.separator {
                    // The spec's index is taken; its lists' layers follow it.
                    let index = locations.count - 1
                    var blocks = [try list(closedBy: ["end", separator])]
                    while at < lines.count, lines[at].words[0].text == separator {
                        try expectAlone(lines[at])
                        at += 1
                        blocks.append(try list(closedBy: ["end", separator]))
                    }
                    guard at < lines.count else {
                        throw ShellError("'\(inv.name)' is not closed: expected 'end'", at: locations[index])
                    }
                    try expectAlone(lines[at])
                    at += 1
                    spec.blocks = blocks
                }
                specs.append(spec)
            }
            return specs
        }

        func isSeparator(_ word: String) -> Bool {
            registries.layers.all.contains { $0.separator == word }
        }

        func expectAlone(_ line: Line) throws {
            guard line.words.count == 1 else { throw ShellError("'\(line.words[0].text)' takes no arguments", at: line.location) }
        }
    }
}
