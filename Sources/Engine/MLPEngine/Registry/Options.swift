/// One KEY=VALUE option a command or registry entry accepts, with its default and meaning.
/// The same list drives parsing, `help NAME` and Tab completion.
public struct OptionSpec: Sendable {
    public let key: String
    public let defaultValue: String
    public let help: String
    public init(_ key: String, _ defaultValue: String, _ help: String) {
        self.key = key
        self.defaultValue = defaultValue
        self.help = help
    }
}

/// The KEY=VALUE options given to one command or entry, read with typed accessors that
/// fall back to the spec's default and say exactly what was wrong with a bad value.
public struct Options: Sendable {
    public let values: [String: String]
    public let specs: [OptionSpec]
    /// What the options belong to, for messages ("optim sgd").
    public let owner: String

    /// Checks every key against `specs`: an unknown key is an error naming the known ones.
    public init(_ values: [String: String], specs: [OptionSpec], owner: String) throws {
        let known = specs.map(\.key)
        for key in values.keys.sorted() where !known.contains(key) {
            if known.isEmpty { throw EngineError("'\(owner)' takes no options, but was given '\(key)='") }
            var msg = "unknown option '\(key)' for '\(owner)' (known: \(known.joined(separator: ", ")))"
            if let near = nearestName(to: key, in: known) { msg += "; did you mean '\(near)'?" }
            throw EngineError(msg)
        }
        self.values = values
        self.specs = specs
        self.owner = owner
    }

    public func has(_ key: String) -> Bool { values[key] != nil }

    /// The raw text of `key`, or the spec's default.
    public func string(_ key: String) -> String {
        if let v = values[key] { return v }
        return specs.first { $0.key == key }?.defaultValue ?? ""
    }

    public func double(_ key: String, min: Double? = nil, max: Double? = nil,
                       minExclusive: Bool = false, maxExclusive: Bool = false) throws -> Double {
        let text = string(key)
        guard let v = Double(text), v.isFinite else {
            throw EngineError("\(key)=\(text) for '\(owner)' is not a number")
        }
        // Every setting ends up in float32 arithmetic: one that rounds to infinity is refused.
        guard Float(v).isFinite else {
            throw EngineError("\(key)=\(text) for '\(owner)' is out of range: it must be within ±\(Float.greatestFiniteMagnitude)")
        }
        if let lo = min, minExclusive ? v <= lo : v < lo {
            throw EngineError("\(key)=\(text) for '\(owner)' is out of range: it must be \(minExclusive ? ">" : ">=") \(fmt(lo))")
        }
        if let hi = max, maxExclusive ? v >= hi : v > hi {
            throw EngineError("\(key)=\(text) for '\(owner)' is out of range: it must be \(maxExclusive ? "<" : "<=") \(fmt(hi))")
        }
        return v
    }

    public func float(_ key: String, min: Double? = nil, max: Double? = nil,
                      minExclusive: Bool = false, maxExclusive: Bool = false) throws -> Float {
        let v = Float(try double(key, min: min, max: max, minExclusive: minExclusive, maxExclusive: maxExclusive))
        // The bound holds for the value as float32 will use it, so that what is saved loads:
        // p=0.99999999999 is 1.0 in float32, which dropout's p < 1 refuses.
        if let hi = max, maxExclusive, Double(v) >= hi {
            throw EngineError("\(key)=\(string(key)) for '\(owner)' rounds to \(v) in float32: it must be < \(hi)")
        }
        if let lo = min, minExclusive, Double(v) <= lo {
            throw EngineError("\(key)=\(string(key)) for '\(owner)' rounds to \(v) in float32: it must be > \(lo)")
        }
        return v
    }

    public func int(_ key: String, min: Int? = nil, max: Int? = nil) throws -> Int {
        try parseInt(string(key), name: key, owner: owner, min: min, max: max)
    }

    public func bool(_ key: String) throws -> Bool {
        let text = string(key)
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw EngineError("\(key)=\(text) for '\(owner)' is not true or false")
        }
    }

    /// A comma-separated list of numbers, or nil when the value is empty.
    public func floats(_ key: String) throws -> [Float]? {
        let text = string(key)
        if text.isEmpty || text == "none" { return nil }
        return try text.split(separator: ",", omittingEmptySubsequences: false).map {
            guard let v = Float($0.trimmingCharactersSpace()), v.isFinite else {
                throw EngineError("\(key)=\(text) for '\(owner)' is not a comma-separated list of numbers")
            }
            return v
        }
    }

    private func fmt(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(v) }
}

/// Parses a whole number, with a message naming what it is for and the allowed range.
public func parseInt(_ text: String, name: String, owner: String, min: Int? = nil, max: Int? = nil) throws -> Int {
    guard let v = Int(text) else {
        throw EngineError("\(name)=\(text) for '\(owner)' is not a whole number")
    }
    if let lo = min, v < lo { throw EngineError("\(name)=\(text) for '\(owner)' is out of range: it must be >= \(lo)") }
    if let hi = max, v > hi { throw EngineError("\(name)=\(text) for '\(owner)' is out of range: it must be <= \(hi)") }
    return v
}

extension Substring {
    func trimmingCharactersSpace() -> String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
