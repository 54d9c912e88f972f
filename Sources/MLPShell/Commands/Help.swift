import MLPEngine

/// `help`: the commands grouped by purpose, then each registry's names.
func helpOverview(_ s: Session) -> String {
    guard let commands = s.interpreter?.commands.commands else { return "" }
    var out = "mlpsh: train neural networks from commands. 'help NAME' describes one thing.\n"
    let width = commands.map(\.name.count).max()! + 2
    for group in commandGroups {
        out += "\n\(group):\n"
        for c in commands where c.group == group {
            out += "  " + c.name.padding(toLength: width, withPad: " ", startingAt: 0) + c.summary + "\n"
        }
    }
    let r = s.registries
    out += "\n"
    for registry in r.all {
        out += "\(registry.title): " + registry.names.joined(separator: ", ") + "\n"
    }
    return out
}

/// `help NAME`: usage, options with defaults and an example, for every command or registry
/// entry of that name; an unknown name suggests the nearest one.
func helpText(for name: String, session s: Session) throws -> String {
    var sections: [String] = []
    if let c = s.interpreter?.commands.lookup(name) {
        sections.append(describe(title: "command \(c.name)", usage: c.usage, summary: c.summary, details: c.details,
                                 options: c.options, example: c.example))
    }
    let r = s.registries
    for registry in r.all {
        guard let e = registry.help(name) else { continue }
        let usage = [registry.command, e.name, e.usage].filter { !$0.isEmpty }.joined(separator: " ")
            + (e.options.isEmpty ? "" : " [KEY=VALUE ...]")
        sections.append(describe(title: "\(registry.kind) \(e.name)", usage: usage, summary: e.summary, details: e.details,
                                 options: e.options, example: e.example))
    }
    if sections.isEmpty {
        let known = (s.interpreter?.commands.names ?? []) + r.all.flatMap(\.names)
        let kinds = ["command"] + r.all.map(\.key)
        var msg = "no \(kinds.dropLast().joined(separator: ", ")) or \(kinds.last!) is named '\(name)'"
        if let near = nearestName(to: name, in: known) { msg += "; did you mean '\(near)'?" }
        throw EngineError(msg)
    }
    return sections.joined(separator: "\n")
}

private func describe(title: String, usage: String, summary: String, details: String,
                      options: [OptionSpec], example: String) -> String {
    var out = "\(title): \(summary)\n  usage: \(usage)\n"
    if !details.isEmpty { out += details.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n") + "\n" }
    if !options.isEmpty {
        out += "  options:\n"
        let w = options.map { $0.key.count + $0.defaultValue.count }.max()! + 4
        for o in options {
            let kv = "\(o.key)=\(o.defaultValue.isEmpty ? "(none)" : o.defaultValue)"
            out += "    " + kv.padding(toLength: max(w, kv.count + 2), withPad: " ", startingAt: 0) + o.help + "\n"
        }
    }
    if !example.isEmpty {
        out += "  example:\n" + example.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n"
    }
    return out
}
