/// A component as data: its registry name, its positional words and its KEY=VALUE options.
/// Layers, losses, optimizers and schedules describe themselves with one, checkpoints store
/// it as JSON, and the registries rebuild the component from it; nothing is ever run as text.
public struct Spec: Equatable, Sendable {
    public var name: String
    public var args: [String]
    /// In the order the component lists them (the order its text shows them).
    public var options: [(key: String, value: String)]
    /// A block's lists of layers, nested specs (`residual`: its body, then its shortcut when
    /// it has one; `concat`: its branches). Empty for everything else.
    public var blocks: [[Spec]]

    public init(_ name: String, args: [String] = [], options: [(key: String, value: String)] = [], blocks: [[Spec]] = []) {
        self.name = name
        self.args = args
        self.options = options
        self.blocks = blocks
    }

    /// This spec and every spec nested in it, in the order a model block writes them (a
    /// block before its layers): the order in which build errors count layers.
    public var flattened: [Spec] { [self] + blocks.flatMap { $0.flatMap(\.flattened) } }

    /// Specs are compared as data: the options are a set of KEY=VALUE pairs, whatever their
    /// order (a checkpoint's JSON stores them sorted; a layer lists them in its own order).
    public static func == (a: Spec, b: Spec) -> Bool {
        a.name == b.name && a.args == b.args && a.options.count == b.options.count && a.optionValues == b.optionValues
            && a.blocks == b.blocks
    }

    /// The options as the registry's `Options` take them.
    public var optionValues: [String: String] {
        Dictionary(options.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    /// The component as mlpsh text: "linear 784 120", "sgd lr=0.005 momentum=0.9".
    public var text: String {
        ([name] + args + options.map { "\($0.key)=\($0.value)" }).joined(separator: " ")
    }

    /// Reads text that `text` wrote: a name, then words and KEY=VALUE options separated by
    /// spaces or tabs. This is a parser of data, not of the language: it accepts only names,
    /// numbers and plain values, and refuses anything a statement could hide in (`;`, `#`,
    /// `$`, quotes, line breaks, control characters).
    public init(parsing text: String, what: String) throws {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = words.first else { throw EngineError("\(what) is empty") }
        for scalar in text.unicodeScalars {
            let bad = scalar.properties.generalCategory == .control && scalar != "\t"
            if bad || ";#$\"'\\`".unicodeScalars.contains(scalar) {
                throw EngineError("\(what) holds \(scalar.escaped(asASCII: true).debugDescription), which a definition never does")
            }
        }
        guard isValidName(first) else { throw EngineError("\(what): '\(first)' is not a name") }
        var args: [String] = [], options: [(key: String, value: String)] = []
        for word in words.dropFirst() {
            if let eq = word.firstIndex(of: "=") {
                let key = String(word[..<eq])
                guard isValidName(key) else { throw EngineError("\(what): '\(key)' is not an option name") }
                guard !options.contains(where: { $0.key == key }) else { throw EngineError("\(what): option '\(key)=' is given twice") }
                options.append((key, String(word[word.index(after: eq)...])))
            } else {
                guard options.isEmpty else { throw EngineError("\(what): '\(word)' comes after the options") }
                args.append(word)
            }
        }
        self.init(first, args: args, options: options)
    }
}

extension Spec: Codable {
    private enum CodingKeys: String, CodingKey { case name, layer, args, options, blocks }

    private struct OptionKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Set to true in an encoder's userInfo to write the name as "layer" (model descriptions).
    public static let nameIsLayer = CodingUserInfoKey(rawValue: "mlpsh.spec.nameIsLayer")!

    /// {"name": "sgd", "args": [], "options": {"lr": "0.005"}}, or {"layer": "linear", ...}; a
    /// block adds "blocks": [[...], ...], its lists of nested specs.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: encoder.userInfo[Spec.nameIsLayer] as? Bool == true ? .layer : .name)
        try c.encode(args, forKey: .args)
        var o = c.nestedContainer(keyedBy: OptionKey.self, forKey: .options)
        for (k, v) in options { try o.encode(v, forKey: OptionKey(stringValue: k)) }
        if !blocks.isEmpty { try c.encode(blocks, forKey: .blocks) }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decodeIfPresent(String.self, forKey: .layer) ?? c.decode(String.self, forKey: .name)
        let args = try c.decodeIfPresent([String].self, forKey: .args) ?? []
        var options: [(key: String, value: String)] = []
        if c.contains(.options) {
            let o = try c.nestedContainer(keyedBy: OptionKey.self, forKey: .options)
            for key in o.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
                options.append((key.stringValue, try o.decode(String.self, forKey: key)))
            }
        }
        let blocks = try c.decodeIfPresent([[Spec]].self, forKey: .blocks) ?? []
        self.init(name, args: args, options: options, blocks: blocks)
    }
}
