import MLPEngine

/// One word of a statement. `quoted` words are never taken as KEY=VALUE options.
public struct Word: Equatable, Sendable {
    public let text: String
    public let quoted: Bool
    public init(_ text: String, quoted: Bool = false) {
        self.text = text
        self.quoted = quoted
    }

    /// The word as script text that reads back as this word, its variables already expanded:
    /// `$` doubled, and quoted (with `\\` and `\"` escaped) when it was quoted or holds a space,
    /// a quote, a backslash, `;`, or begins with `#`.
    public var scriptText: String {
        func needsQuotes(_ t: String) -> Bool {
            t.isEmpty || t.hasPrefix("#") || t.contains(where: { $0.isWhitespace || $0 == "\"" || $0 == "\\" || $0 == ";" })
        }
        func quote(_ t: String) -> String {
            "\"" + t.replacingOccurrences(of: "$", with: "$$").replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        if quoted { return quote(text) }
        // An option keeps its KEY= outside the quotes, so that it reads back as an option.
        if let eq = text.firstIndex(of: "="), Lexer.isVariableName(String(text[..<eq])) {
            let value = String(text[text.index(after: eq)...])
            return String(text[...eq]) + (needsQuotes(value) && !value.isEmpty ? quote(value) : value.replacingOccurrences(of: "$", with: "$$"))
        }
        return needsQuotes(text) ? quote(text) : text.replacingOccurrences(of: "$", with: "$$")
    }
}

/// The lexer of the mlpsh language, in two steps so that `set x 3; echo $x` sees x:
/// `statements(in:)` cuts a line at `;` and at a `#` that begins a word, outside quotes, and `words(in:variables:)`
/// splits one statement into words, expanding `$NAME` and `${NAME}` as it goes.
public enum Lexer {
    /// The variables `text` expands ($NAME, ${NAME}), and those of the files its `include`
    /// lines name, as `read` gives their text (nil: not readable, or already seen).
    public static func referencedVariables(in text: String, including read: (String) -> String?) -> Set<String> {
        var names = Set<String>()
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let chars = Array(line)
            var i = 0
            while i < chars.count {
                guard chars[i] == "$", i + 1 < chars.count else { i += 1; continue }
                if chars[i + 1] == "$" { i += 2; continue }
                var j = i + 1
                let braced = chars[j] == "{"
                if braced { j += 1 }
                var name = ""
                while j < chars.count, chars[j] == "_" || chars[j].isLetter || chars[j].isNumber { name.append(chars[j]); j += 1 }
                if !name.isEmpty { names.insert(name) }
                i = j
            }
            let words = line.split(whereSeparator: \.isWhitespace)
            if words.first == "include", words.count >= 2, let included = read(String(words[1])) {
                names.formUnion(referencedVariables(in: included, including: read))
            }
        }
        return names
    }

    /// The statements of one line, comments removed, blank ones dropped.
    public static func statements(in line: String) throws -> [String] {
        var result: [String] = []
        var current = ""
        var inQuotes = false, escaped = false
        for ch in line {
            if inQuotes {
                current.append(ch)
                if escaped { escaped = false } else if ch == "\\" { escaped = true } else if ch == "\"" { inQuotes = false }
                continue
            }
            switch ch {
            case "\"": inQuotes = true; current.append(ch)
            case "#":
                // A comment starts only at a '#' that begins a word: `save run#3.safetensors` keeps it.
                if current.last.map({ $0.isWhitespace }) ?? true { return finish(result, current, inQuotes: false) }
                current.append(ch)
            case ";": result.append(current); current = ""
            default: current.append(ch)
            }
        }
        if inQuotes { throw EngineError("unterminated \"quoted text\": a closing \" is missing") }
        return finish(result, current, inQuotes: false)
    }

    private static func finish(_ done: [String], _ last: String, inQuotes: Bool) -> [String] {
        (done + [last]).filter { !$0.allSatisfy(\.isWhitespace) }
    }

    /// Splits a statement into words. "Double quotes" keep spaces; `\"` inside them is a quote.
    /// `$NAME` and `${NAME}` expand (inside quotes too) through `variables`, and an unknown
    /// name is an error; `$$` is a literal `$`.
    public static func words(in statement: String, variables: (String) -> String?) throws -> [Word] {
        var words: [Word] = []
        var current = ""
        var quoted = false, inWord = false, inQuotes = false
        let chars = Array(statement)
        var i = 0
        // The bytes of the words already ended: a statement of many large words is bounded too.
        var total = 0
        func endWord() {
            if inWord { words.append(Word(current, quoted: quoted)); total += current.utf8.count }
            current = ""; quoted = false; inWord = false
        }
        while i < chars.count {
            let ch = chars[i]
            if ch == "$" {
                let (value, next) = try expand(chars, from: i, variables: variables)
                current += value
                guard current.utf8.count <= maximumWordSize else {
                    throw EngineError("a word grows past \(maximumWordSize) bytes as its variables expand (is a variable doubling itself?)")
                }
                guard total + current.utf8.count <= maximumStatementSize else {
                    throw EngineError("a statement grows past \(maximumStatementSize) bytes as its variables expand")
                }
                inWord = true
                i = next
                continue
            }
            if inQuotes {
                if ch == "\\", i + 1 < chars.count, chars[i + 1] == "\"" || chars[i + 1] == "\\" {
                    current.append(chars[i + 1]); i += 2; continue
                }
                if ch == "\"" { inQuotes = false } else { current.append(ch) }
                i += 1
                continue
            }
            if ch == "\"" {
                // KEY="a value" is the option KEY with a quoted value; any other quote makes the
                // word quoted text (never an option, never a keyword).
                let optionValue = !quoted && current.hasSuffix("=") && isVariableName(String(current.dropLast()))
                inQuotes = true; inWord = true
                if !optionValue { quoted = true }
            } else if ch.isWhitespace {
                endWord()
            } else {
                current.append(ch); inWord = true
            }
            i += 1
        }
        if inQuotes { throw EngineError("unterminated \"quoted text\": a closing \" is missing") }
        endWord()
        return words
    }

    /// Expands the variable reference starting at chars[i] == "$"; returns its value and the
    /// index after it.
    private static func expand(_ chars: [Character], from i: Int,
                               variables: (String) -> String?) throws -> (String, Int) {
        var j = i + 1
        if j < chars.count, chars[j] == "$" { return ("$", j + 1) }
        var name = ""
        if j < chars.count, chars[j] == "{" {
            j += 1
            while j < chars.count, chars[j] != "}" { name.append(chars[j]); j += 1 }
            guard j < chars.count else { throw EngineError("'${\(name)' is not closed: expected '}'") }
            j += 1
        } else {
            while j < chars.count, chars[j] == "_" || chars[j].isLetter || chars[j].isNumber { name.append(chars[j]); j += 1 }
        }
        guard isVariableName(name) else {
            throw EngineError(name.isEmpty ? "'$' must be followed by a variable name (write $$ for a literal $)"
                                           : "'\(name)' is not a variable name")
        }
        guard let value = variables(name) else { throw EngineError("undefined variable '$\(name)' (define it with 'set \(name) VALUE')") }
        return (value, j)
    }

    /// The largest a word may grow as variables expand: 1 MiB.
    public static let maximumWordSize = 1 << 20
    /// The most bytes a statement's words may hold once expanded (4 MiB).
    public static let maximumStatementSize = 1 << 22

    /// Letters, digits and _, not starting with a digit.
    public static func isVariableName(_ s: String) -> Bool {
        guard let f = s.first, f == "_" || (f.isLetter && f.isASCII) else { return false }
        return s.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }
}
