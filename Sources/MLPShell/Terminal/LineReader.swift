import CReadline
import Foundation

/// What reading a line at the prompt gave.
public enum LineRead: Equatable {
    case line(String)
    /// End of input (Ctrl-D on an empty line).
    case end
    /// Ctrl-C while the line was being edited: the line is dropped.
    case interrupted
    /// A signal ending mlpsh came (SIGTERM, SIGHUP).
    case ending
}

/// Reads the prompt's lines: GNU readline on a terminal, plain standard input otherwise
/// (three verbs, as lua.c has: read, remember, finish).
public protocol LineReader: AnyObject {
    /// The next line without its newline, or why there is none.
    func readLine(prompt: String) -> LineRead
    /// Adds an entry to the history (and to its file, where there is one).
    func remember(_ entry: String)
    /// Puts the history file in order (bounded in length), where there is one.
    func finish()
}

/// Standard input, line by line; the prompt is printed only when asked.
public final class PlainLineReader: LineReader {
    private let showPrompt: Bool
    public init(showPrompt: Bool) { self.showPrompt = showPrompt }
    public func readLine(prompt: String) -> LineRead {
        if showPrompt { StandardStreams.write(prompt, to: STDOUT_FILENO) }
        // A signal interrupts the read (EINTR): stdio then reports the end of input.
        if let line = Swift.readLine(strippingNewline: true) { return .line(line) }
        if Signals.endingSignal != nil { return .ending }
        if Signals.takeInterrupt() { clearerr(stdin); return .interrupted }
        return .end
    }
    public func remember(_ entry: String) {}
    public func finish() {}
}
