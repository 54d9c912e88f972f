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
        let text = ShellError(printable(e.message), at: e.location.map { SourceLocation(file: printable($0.file), line: $0.line) })
        return "\(text)\n"
    case let e as EngineError: return "error: \(printable(e.message))\n"
    default: return "error: \(printable("\(error)"))\n"
    }
}
