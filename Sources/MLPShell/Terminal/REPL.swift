import Foundation
import MLPEngine

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
        Signals.install(interactive: true)
        runner.session.atPrompt = true
        if loadRC { runRC() }
        var blockLines: [String] = []
        while true {
            if let sig = Signals.endingSignal { return end(by: sig) }
            let prompt = interpreter.isInBlock ? "...> " : "mlp> "
            // A Ctrl-C that stopped the last command is spent.
            _ = Signals.takeInterrupt()
            let read: String
            switch reader.readLine(prompt: prompt) {
            case .line(let line):
                read = line
            case .interrupted:
                // Ctrl-C at the prompt: the line being edited is dropped, and an open block.
                if interpreter.isInBlock {
                    interpreter.cancelBlock()
                    blockLines = []
                    runner.session.console.writeError("the 'model' block is dropped\n")
                }
                continue
            case .ending:
                continue
            case .end:
                // Ctrl-D: inside a block it drops the block (a trained model is not lost by it).
                if interpreter.isInBlock {
                    interpreter.cancelBlock()
                    blockLines = []
                    runner.session.console.writeError("\nthe 'model' block is dropped (Ctrl-D again, or 'quit', leaves)\n")
                    continue
                }
                reader.finish()
                StandardStreams.write("\n", to: STDOUT_FILENO)
                return 0
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
                if let sig = Signals.endingSignal { return end(by: sig) }
                if let status {
                    reader.finish()
                    return status
                }
            }
        }
    }

    /// Leaves on a signal that ends mlpsh: the history file is put in order (its entries are
    /// already in it), and the status says which signal (the caller ends by it).
    private func end(by sig: Int32) -> Int32 {
        reader.finish()
        return 128 + sig
    }

    /// Runs `body`; prints an error and goes on, or returns the status `quit` asked for.
    private func exitStatus(_ body: () throws -> Void) -> Int32? {
        do {
            try body()
        } catch let exit as ShellExit {
            return exit.status
        } catch where Signals.endingSignal != nil {
            // Stopped by a signal that ends mlpsh: its message may not reach a closed terminal.
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
}

/// $HOME, or the user's home from the password database.
var homeFolder: String {
    if let h = ProcessInfo.processInfo.environment["HOME"], !h.isEmpty { return h }
    return NSHomeDirectory()
}
