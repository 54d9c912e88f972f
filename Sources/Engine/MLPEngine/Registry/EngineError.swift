/// An error a user can act on. `message` is one sentence saying what was wrong and what was
/// expected, in the engine's terms; `hint`, when there is one, says what to type at mlpsh's
/// prompt to put it right, and only the shell shows it (`shellText`), adding the file and line.
public struct EngineError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public let hint: String?
    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }
    public var description: String { message }
    /// The message with its hint, as the shell prints it.
    public var shellText: String { hint.map { "\(message): \($0)" } ?? message }
}

/// The known name nearest to `name` by edit distance, when it is near enough to be a likely typo.
public func nearestName(to name: String, in candidates: [String]) -> String? {
    var best: (String, Int)?
    for c in candidates {
        let d = editDistance(name.lowercased(), c.lowercased())
        if d <= max(1, min(3, c.count / 2)), best == nil || d < best!.1 { best = (c, d) }
    }
    if best == nil, let prefixed = candidates.first(where: { $0.hasPrefix(name) && !name.isEmpty }) {
        return prefixed
    }
    return best?.0
}

/// Levenshtein distance between two strings.
public func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count), cur = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        cur[0] = i
        for j in 1...b.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[b.count]
}

/// "unknown layer 'lineer' (known: linear, relu); did you mean 'linear'?"
public func unknownNameMessage(kind: String, name: String, known: [String]) -> String {
    var msg = "unknown \(kind) '\(name)' (known: \(known.joined(separator: ", ")))"
    if let near = nearestName(to: name, in: known) { msg += "; did you mean '\(near)'?" }
    return msg
}
