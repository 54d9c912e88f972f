import CReadline
import Foundation

/// Reads the prompt's lines: GNU readline on a terminal, plain standard input otherwise
/// (three verbs, as lua.c has: read, remember, finish).
public protocol LineReader: AnyObject {
    /// The next line without its newline, or nil at end of input (Ctrl-D).
    func readLine(prompt: String) -> String?
    /// Adds an entry to the history.
    func remember(_ entry: String)
    /// Saves the history, where there is one.
    func finish()
}

/// Standard input, line by line; the prompt is printed only when asked.
public final class PlainLineReader: LineReader {
    private let showPrompt: Bool
    public init(showPrompt: Bool) { self.showPrompt = showPrompt }
    public func readLine(prompt: String) -> String? {
        if showPrompt { StandardStreams.write(prompt, to: STDOUT_FILENO) }
        return Swift.readLine(strippingNewline: true)
    }
    public func remember(_ entry: String) {}
    public func finish() {}
}

/// GNU readline with a history file kept across runs and bounded in length.
public final class ReadlineLineReader: LineReader {
    public let historyPath: String
    public static let historyLimit: Int32 = 1000

    public init(historyPath: String, completer: Completer?) {
        self.historyPath = historyPath
        rl_readline_name = UnsafePointer(strdup("mlpsh"))
        using_history()
        stifle_history(Self.historyLimit)
        _ = read_history(historyPath)
        ReadlineCompletion.install(completer)
    }

    public func readLine(prompt: String) -> String? {
        guard let raw = readline(prompt) else { return nil }
        defer { free(raw) }
        return String(cString: raw)
    }

    public func remember(_ entry: String) {
        guard !entry.allSatisfy(\.isWhitespace) else { return }
        add_history(entry)
    }

    public func finish() {
        _ = write_history(historyPath)
        _ = history_truncate_file(historyPath, Self.historyLimit)
    }
}
