import MLPEngine

/// Text from files (tensor names, metadata, class names from a CSV) can hold terminal control
/// sequences that would clear the screen or forge lines. Everything mlpsh prints that may come
/// from a file goes through `printable`: each control character is shown escaped (\e, \r,
/// \u{9B}) instead of being sent to the terminal.
/// With `keepingNewlines`, line breaks pass (text of several lines mlpsh laid out itself).
func printable(_ text: String, keepingNewlines: Bool = false) -> String {
    let escaped = { (s: Unicode.Scalar) in isControl(s) && !(keepingNewlines && s == "\n") }
    guard text.unicodeScalars.contains(where: escaped) else { return text }
    var out = ""
    for scalar in text.unicodeScalars {
        guard escaped(scalar) else { out.unicodeScalars.append(scalar); continue }
        switch scalar {
        case "\u{1B}": out += "\\e"
        case "\r": out += "\\r"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default: out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
        }
    }
    return out
}

/// C0 and C1 control characters and DEL.
private func isControl(_ s: Unicode.Scalar) -> Bool {
    s.value < 0x20 || (0x7F...0x9F).contains(s.value)
}

/// An error as it is printed: one line, its text made printable.
func errorLine(_ error: Error) -> String {
    switch error {
    case let e as ShellError:
        let text = ShellError(printable(shortened(e.message)), at: e.location.map { SourceLocation(file: printable(shortened($0.file)), line: $0.line) })
        return "\(text)\n"
    case let e as EngineError: return "error: \(printable(shortened(e.shellText)))\n"
    default: return "error: \(printable(shortened("\(error)")))\n"
    }
}

/// A message whose quoted text ('...', "...") is cut to 200 characters with "…", and which
/// is at most 2,000 characters in all: an error quotes what it was given, which may be huge
/// (an unclosed `${` before megabytes of letters).
func shortened(_ message: String, quoted limit: Int = 200, whole: Int = 2_000) -> String {
    guard message.count > limit else { return message }
    var out = "", quote: Character?, run = 0, length = 0, previous: Character = " "
    for ch in message {
        defer { previous = ch }
        if let q = quote {
            if ch == q { quote = nil; out.append(ch); length += 1; continue }
            run += 1
            if run <= limit { out.append(ch); length += 1 } else if run == limit + 1 { out.append("…"); length += 1 }
        } else {
            // A quote opens after a space, a bracket or a colon (not an apostrophe in a word).
            if (ch == "'" || ch == "\"") && (previous == " " || previous == "(" || previous == ":") { quote = ch; run = 0 }
            out.append(ch)
            length += 1
        }
        if length > whole { return out + "…" }
    }
    return out
}
