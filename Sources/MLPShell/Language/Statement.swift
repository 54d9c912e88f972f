import MLPEngine

/// Where a statement came from: the file (or "-c", "<stdin>") and line.
public struct SourceLocation: Equatable, Sendable {
    public let file: String
    public let line: Int
    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }
}

/// A mistake at a known place: printed `FILE:LINE: error: WHAT`, or `error: WHAT` in the REPL.
public struct ShellError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public let location: SourceLocation?
    public init(_ message: String, at location: SourceLocation?) {
        self.message = message
        self.location = location
    }

    public var description: String {
        guard let l = location else { return "error: \(message)" }
        return "\(l.file):\(l.line): error: \(message)"
    }
}

/// `quit` or `exit`: leave with `status`.
public struct ShellExit: Error {
    public let status: Int32
}

/// One command as the interpreter runs it: its name, positional words and KEY=VALUE options.
public struct Invocation {
    public let name: String
    public let positional: [String]
    public let options: [String: String]
    /// Every word after the name, as written.
    public let words: [Word]
    /// A KEY= given more than once, which is an error for commands that take options.
    public let repeatedOption: String?
    public let location: SourceLocation?

    /// Sorts words into positional ones and options. An unquoted word KEY=VALUE whose KEY is
    /// a name is an option.
    public init(words: [Word], location: SourceLocation?) {
        precondition(!words.isEmpty)
        name = words[0].text
        var positional: [String] = [], options: [String: String] = [:]
        var repeated: String?
        for w in words.dropFirst() {
            if !w.quoted, let eq = w.text.firstIndex(of: "="), Lexer.isVariableName(String(w.text[..<eq])) {
                let key = String(w.text[..<eq])
                if options[key] != nil, repeated == nil { repeated = key }
                options[key] = String(w.text[w.text.index(after: eq)...])
            } else {
                positional.append(w.text)
            }
        }
        self.positional = positional
        self.options = options
        self.words = Array(words.dropFirst())
        repeatedOption = repeated
        self.location = location
    }
}

extension Invocation {
    /// KEY=VALUE options in the order of their keys, as a spec holds them.
    var sortedOptions: [(key: String, value: String)] { options.keys.sorted().map { ($0, options[$0]!) } }

    /// A component command's words as the spec the registry makes it from: `loss NAME KEY=VALUE ...`.
    var componentSpec: Spec { Spec(positional[0], args: Array(positional.dropFirst()), options: sortedOptions) }
}

/// A script's bytes as text: UTF-8 without NUL bytes, else an error at the first line that is
/// not (as compilers and Python name the line), with the byte and its column.
func scriptText(_ bytes: [UInt8], file: String) throws -> String {
    var line = 1, start = 0
    for i in 0...bytes.count {
        guard i == bytes.count || bytes[i] == 0x0A else { continue }
        let part = bytes[start..<i]
        if let zero = part.firstIndex(of: 0) {
            throw ShellError("a NUL byte at column \(zero - start + 1): a script is UTF-8 text", at: SourceLocation(file: file, line: line))
        }
        if String(validating: part, as: UTF8.self) == nil {
            // The first byte from which the line stops being UTF-8.
            var column = part.count
            for end in stride(from: part.count, through: 0, by: -1) where String(validating: part.prefix(end), as: UTF8.self) != nil {
                column = end + 1
                break
            }
            let byte = part[part.startIndex + min(column - 1, part.count - 1)]
            throw ShellError(String(format: "not UTF-8 text: the byte 0x%02X at column %d", byte, column), at: SourceLocation(file: file, line: line))
        }
        line += 1
        start = i + 1
    }
    return String(decoding: bytes, as: UTF8.self)
}
