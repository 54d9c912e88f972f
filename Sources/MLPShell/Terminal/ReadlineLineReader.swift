import CReadline
import Foundation

/// GNU readline with a history file kept across runs and bounded in length. Each entry is
/// appended to the file as it is made, so a session that ends by a signal (the terminal
/// closed) or a crash has lost none of it.
///
/// Lines are read with readline's callback interface in a pselect(2) loop, as CPython does: a
/// signal interrupts the wait (EINTR), and the loop, not the handler, clears the line (Ctrl-C),
/// gives up the prompt (SIGTERM, SIGHUP), stops for Ctrl-Z or follows a resize (also one made
/// while a command ran, seen at the next prompt as a size readline does not know). readline
/// installs no signal handlers of its own, and reads its keys through `readKey`. Keys typed
/// while a command ran are taken first (`typedAhead`).
public final class ReadlineLineReader: LineReader {
    public let historyPath: String
    public static let historyLimit: Int32 = 1000

    /// The line the callback received, and whether it came (nil: Ctrl-D).
    nonisolated(unsafe) private static var received: String?
    nonisolated(unsafe) private static var done = false
    /// Text typed ahead and cut short by Ctrl-D: the start of the next line.
    nonisolated(unsafe) private static var unfinished: String?
    /// False when the history path is not a regular file: the history is then not written.
    private var keepsFile = true

    public init(historyPath: String, completer: Completer?) {
        self.historyPath = historyPath
        rl_readline_name = UnsafePointer(strdup("mlpsh"))
        rl_catch_signals = 0
        rl_catch_sigwinch = 0
        rl_getc_function = Self.readKey
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
        let input = rl_instream.map { fileno($0) } ?? STDIN_FILENO
        if let early = typedAhead(input, prompt: prompt) { return early }
        // readline reads the size when it starts (in the install below), the first time only.
        if Self.knownSize == nil { Self.knownSize = TerminalSize(of: input) }
        Self.received = nil
        Self.done = false
        rl_callback_handler_install(prompt) { raw in
            ReadlineLineReader.received = raw.map { String(cString: $0) }
            ReadlineLineReader.done = true
            free(raw)
            // Removed here, so that readline does not draw the prompt again after the line.
            rl_callback_handler_remove()
        }
        // The prompt's signals (and Ctrl-Z) are held back except while waiting for a key, so
        // that none slips in between looking at the flags and waiting.
        Signals.catchPromptSignals(true)
        pthread_sigmask(SIG_BLOCK, &Self.promptSignals, &Self.openMask)
        defer {
            pthread_sigmask(SIG_SETMASK, &Self.openMask, nil)
            Signals.catchPromptSignals(false)
        }
        // SIGWINCH is caught only at the prompt: a resize while a command ran (or before the
        // handler was in place) shows as a size readline does not know yet.
        if TerminalSize(of: input) != Self.knownSize { Self.resize() }
        if let text = Self.unfinished {
            Self.unfinished = nil
            rl_insert_text(text)
            rl_redisplay()
        }
        while !Self.done {
            // A signal may have come while readline was reading (see `readKey`).
            if let stop = stopped() { return stop }
            Self.followSignals()
            if mlpsh_wait_readable(input, &Self.openMask) < 0 {
                guard errno == EINTR else { abandonLine(); return .end }
                continue
            }
            rl_callback_read_char()
        }
        if Self.received == nil, let stop = stopped() { return stop }
        return Self.received.map { .line($0) } ?? .end
    }

    /// SIGINT, SIGTERM, SIGHUP, SIGTSTP and SIGWINCH; and the signal mask from before the prompt held
    /// them back, which is in force only while waiting for a key.
    nonisolated(unsafe) private static var promptSignals: sigset_t = {
        var set = sigset_t()
        sigemptyset(&set)
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGTSTP, SIGWINCH] { sigaddset(&set, sig) }
        return set
    }()
    nonisolated(unsafe) private static var openMask = sigset_t()

    /// What a signal that came means for the line being read, if one came: the line is
    /// abandoned either way.
    private func stopped() -> LineRead? {
        if let sig = Signals.endingSignal {
            // After SIGHUP the terminal is gone: nothing more is written to it.
            abandonLine(newLine: sig != SIGHUP)
            return .ending
        }
        if Signals.takeInterrupt() {
            abandonLine()
            return .interrupted
        }
        return nil
    }

    /// Signals the prompt follows. A new size of the terminal (SIGWINCH) is passed on to
    /// readline, which redraws the line. Ctrl-Z is done as readline does it for itself: the
    /// terminal is put back in its own mode, mlpsh stops, and once continued (`fg`) readline's
    /// mode comes back and the prompt and the line being edited are drawn again.
    private static func followSignals() {
        if Signals.takeResize() { resize() }
        guard Signals.takeSuspend() else { return }
        rl_cleanup_after_signal()
        Signals.suspend()
        rl_reset_after_signal()
        rl_forced_update_display()
    }

    /// The terminal's size as readline last learnt it.
    nonisolated(unsafe) private static var knownSize: TerminalSize?

    /// Tells readline the terminal's size; it redraws the prompt and the line for it.
    private static func resize() {
        knownSize = TerminalSize(of: rl_instream.map { fileno($0) } ?? STDIN_FILENO)
        rl_resize_terminal()
    }

    /// readline's way of reading a key (rl_getc_function). readline reads more keys than the
    /// poll loop hands it (the rest of a paste, typed-ahead text to insert at once), and its
    /// own rl_getc waits again after EINTR: a Ctrl-C that flushed the keys it expected would
    /// leave it waiting for good. This one, called while `readLine` holds the signals back,
    /// lets them through only while it waits, gives EOF once one came (the loop then abandons
    /// the line), and stops for a Ctrl-Z.
    private static let readKey: @convention(c) (UnsafeMutablePointer<FILE>?) -> Int32 = { stream in
        let fd = stream.map { fileno($0) } ?? STDIN_FILENO
        while true {
            if Signals.stopRequested { return EOF }
            followSignals()
            if mlpsh_wait_readable(fd, &openMask) < 0 {
                if errno == EINTR { continue }
                return EOF
            }
            // Let a signal that came since pselect run its handler before the read, then read
            // (a Ctrl-C flushes the terminal's queue, so the read may have to wait again).
            pthread_sigmask(SIG_SETMASK, &openMask, nil)
            if Signals.stopRequested { pthread_sigmask(SIG_BLOCK, &promptSignals, nil); return EOF }
            var byte: UInt8 = 0
            let n = read(fd, &byte, 1)
            pthread_sigmask(SIG_BLOCK, &promptSignals, nil)
            if n == 1 { return Int32(byte) }
            if n == 0 || errno != EINTR && errno != EAGAIN { return EOF }
        }
    }

    /// What was typed while a command ran. The terminal is then in its own (canonical) mode,
    /// where the kernel keeps whole lines and Ctrl-D; readline's raw mode would turn a pending
    /// Ctrl-D into a NUL byte and lose it. So whatever is waiting is read in that mode first:
    /// a whole line is the prompt's next line (shown after the prompt, as readline would have
    /// shown it), Ctrl-D on an empty line ends the input, and text cut short by Ctrl-D becomes
    /// the start of the line readline edits.
    private func typedAhead(_ fd: Int32, prompt: String) -> LineRead? {
        var mode = termios()
        guard tcgetattr(fd, &mode) == 0, mode.c_lflag & tcflag_t(ICANON) != 0 else { return nil }
        var fds = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&fds, 1, 0) == 1, fds.revents & Int16(POLLIN) != 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { return nil }
        let shownPrompt = prompt.filter { $0 != "\u{1}" && $0 != "\u{2}" }
        if n == 0 {
            StandardStreams.write(shownPrompt, to: STDOUT_FILENO)
            return .end
        }
        var bytes = buffer[..<n]
        guard bytes.last == UInt8(ascii: "\n") else {
            Self.unfinished = String(decoding: bytes, as: UTF8.self)
            return nil
        }
        bytes.removeLast()
        let line = String(decoding: bytes, as: UTF8.self)
        StandardStreams.write(shownPrompt + line + "\n", to: STDOUT_FILENO)
        return .line(line)
    }

    /// Leaves the prompt with its line unfinished: readline's state is reset and the terminal
    /// put back, and the cursor goes to a new line.
    private func abandonLine(newLine: Bool = true) {
        rl_clear_pending_input()
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
