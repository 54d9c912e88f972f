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

/// GNU readline with a history file kept across runs and bounded in length. Each entry is
/// appended to the file as it is made, so a session that ends by a signal (the terminal
/// closed) or a crash has lost none of it.
///
/// Lines are read with readline's callback interface in a poll(2) loop, as CPython does: a
/// signal interrupts the poll (EINTR), and the loop, not the handler, clears the line (Ctrl-C)
/// or gives up the prompt (SIGTERM, SIGHUP). readline installs no signal handlers of its own.
public final class ReadlineLineReader: LineReader {
    public let historyPath: String
    public static let historyLimit: Int32 = 1000

    /// The line the callback received, and whether it came (nil: Ctrl-D).
    nonisolated(unsafe) private static var received: String?
    nonisolated(unsafe) private static var done = false
    /// False when the history path is not a regular file: the history is then not written.
    private var keepsFile = true

    public init(historyPath: String, completer: Completer?) {
        self.historyPath = historyPath
        rl_readline_name = UnsafePointer(strdup("mlpsh"))
        rl_catch_signals = 0
        using_history()
        stifle_history(Self.historyLimit)
        // The file exists (mode 600: it is the user's own) so that entries can be appended;
        // anything but a regular file (a FIFO, a device) is left alone.
        var st = stat()
        if stat(historyPath, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG {
            keepsFile = false
            StandardStreams.write("mlpsh: warning: \(printable(historyPath)) is not a regular file: the history is not kept\n", to: STDERR_FILENO)
        } else {
            let fd = open(historyPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0o600)
            if fd >= 0 { close(fd) }
            _ = read_history(historyPath)
        }
        ReadlineCompletion.install(completer)
    }

    public func readLine(prompt: String) -> LineRead {
        Self.received = nil
        Self.done = false
        rl_callback_handler_install(prompt) { raw in
            ReadlineLineReader.received = raw.map { String(cString: $0) }
            ReadlineLineReader.done = true
            free(raw)
            // Removed here, so that readline does not draw the prompt again after the line.
            rl_callback_handler_remove()
        }
        let input = rl_instream.map { fileno($0) } ?? STDIN_FILENO
        while !Self.done {
            var fds = pollfd(fd: input, events: Int16(POLLIN), revents: 0)
            if poll(&fds, 1, -1) < 0 {
                guard errno == EINTR else { abandonLine(); return .end }
                if let sig = Signals.endingSignal {
                    // After SIGHUP the terminal is gone: nothing more is written to it.
                    abandonLine(newLine: sig != SIGHUP)
                    return .ending
                }
                if Signals.takeInterrupt() {
                    abandonLine()
                    return .interrupted
                }
                continue
            }
            rl_callback_read_char()
        }
        return Self.received.map { .line($0) } ?? .end
    }

    /// Leaves the prompt with its line unfinished: readline's state is reset and the terminal
    /// put back, and the cursor goes to a new line.
    private func abandonLine(newLine: Bool = true) {
        rl_free_line_state()
        rl_callback_sigcleanup()
        rl_cleanup_after_signal()
        rl_callback_handler_remove()
        if newLine { StandardStreams.write("\n", to: STDOUT_FILENO) }
    }

    public func remember(_ entry: String) {
        guard !entry.allSatisfy(\.isWhitespace) else { return }
        add_history(entry)
        if keepsFile { _ = append_history(1, historyPath) }
    }

    public func finish() {
        if keepsFile { _ = history_truncate_file(historyPath, Self.historyLimit) }
    }
}
