import CReadline
import Foundation
import MLPEngine

/// Set by SIGINT; the train loop polls it after each batch.
nonisolated(unsafe) private var interruptFlag: sig_atomic_t = 0
/// True while the prompt waits for a line: Ctrl-C then clears the line instead.
nonisolated(unsafe) private var atPrompt: sig_atomic_t = 0
/// Set by a Ctrl-C at the prompt: an open block is dropped before the next line runs.
nonisolated(unsafe) private var promptInterrupted: sig_atomic_t = 0

/// The interactive prompt: `mlp> `, `...> ` inside a model block (the whole block is one
/// history entry), `error: WHAT` for mistakes with the session kept, Ctrl-C to clear the line
/// or stop training after the current batch, Ctrl-D to leave.
public final class REPL {
    private let runner: Runner
    private let loadRC: Bool
    private let reader: LineReader

    public init(runner: Runner, loadRC: Bool, reader: LineReader? = nil) {
        self.runner = runner
        self.loadRC = loadRC
        if let reader {
            self.reader = reader
        } else if isatty(STDIN_FILENO) == 1 {
            self.reader = ReadlineLineReader(historyPath: REPL.historyPath,
                                             completer: Completer(interpreter: runner.interpreter))
        } else {
            self.reader = PlainLineReader(showPrompt: false)
        }
    }

    /// ~/.mlpsh_history, or $MLPSH_HISTORY.
    public static var historyPath: String {
        if let p = ProcessInfo.processInfo.environment["MLPSH_HISTORY"], !p.isEmpty { return p }
        return homeFolder + "/.mlpsh_history"
    }

    public func run() -> Int32 {
        let interpreter = runner.interpreter
        runner.session.interruptRequested = {
            if interruptFlag != 0 { interruptFlag = 0; return true }
            return false
        }
        installInterruptHandler()
        if loadRC { runRC() }
        var blockLines: [String] = []
        while true {
            let prompt = interpreter.isInBlock ? "...> " : "mlp> "
            interruptFlag = 0
            promptInterrupted = 0
            atPrompt = 1
            let read = reader.readLine(prompt: prompt)
            atPrompt = 0
            if promptInterrupted != 0 || interruptFlag != 0 {
                // Ctrl-C at the prompt: the line being edited was cleared; an open block is dropped.
                promptInterrupted = 0
                interruptFlag = 0
                if interpreter.isInBlock {
                    interpreter.cancelBlock()
                    blockLines = []
                    runner.session.console.writeError("the 'model' block is dropped\n")
                }
            }
            guard let read else {
                // Ctrl-D: inside a block it drops the block (a trained model is not lost by it).
                if interpreter.isInBlock {
                    interpreter.cancelBlock()
                    blockLines = []
                    runner.session.console.writeError("\nthe 'model' block is dropped (Ctrl-D again, or 'quit', leaves)\n")
                    continue
                }
                break
            }
            // Pasted text, or a block recalled from history, holds several lines: each runs as
            // if typed, in order.
            for line in read.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" }).map(String.init) {
                if interpreter.isInBlock || isBlockOpening(line) {
                    blockLines.append(line)
                } else if !line.allSatisfy(\.isWhitespace) {
                    reader.remember(line)
                }
                let status = exitStatus { try interpreter.feed(line: line, location: nil) }
                if !interpreter.isInBlock && !blockLines.isEmpty {
                    reader.remember(blockLines.joined(separator: "\n"))
                    blockLines = []
                }
                if let status {
                    reader.finish()
                    return status
                }
            }
        }
        reader.finish()
        StandardStreams.write("\n", to: STDOUT_FILENO)
        return 0
    }

    /// Runs `body`; prints an error and goes on, or returns the status `quit` asked for.
    private func exitStatus(_ body: () throws -> Void) -> Int32? {
        do {
            try body()
        } catch let exit as ShellExit {
            return exit.status
        } catch {
            runner.session.console.writeError(errorLine(error))
        }
        return nil
    }

    private func isBlockOpening(_ line: String) -> Bool {
        line.split(whereSeparator: \.isWhitespace).first == "model"
    }

    private func runRC() {
        let path = homeFolder + "/.mlpshrc"
        guard FileManager.default.fileExists(atPath: path) else { return }
        _ = runner.guarded { try runner.interpreter.include(path: path) }
    }

    private func installInterruptHandler() {
        signal(SIGINT) { _ in
            interruptFlag = 1
            if atPrompt != 0 {
                promptInterrupted = 1
                // Clear the line being edited and draw a fresh prompt.
                rl_replace_line("", 0)
                rl_crlf()
                rl_on_new_line()
                rl_redisplay()
                interruptFlag = 0
            }
        }
    }
}

/// $HOME, or the user's home from the password database.
var homeFolder: String {
    if let h = ProcessInfo.processInfo.environment["HOME"], !h.isEmpty { return h }
    return NSHomeDirectory()
}
