import Foundation
import MLPEngine

/// The ways mlpsh runs text, each returning the process's exit status: a script file, `-c`
/// commands, standard input, and the interactive prompt. All go through one interpreter.
public final class Runner {
    public let interpreter: Interpreter
    public var session: Session { interpreter.session }

    public init(console: Console = .standard(), variables: [String: String] = [:]) {
        let session = Session(console: console)
        session.overrides = variables
        interpreter = Interpreter(session: session)
    }

    /// Runs a script; the first error is printed as FILE:LINE: error: WHAT and gives status 1.
    public func runScript(path: String) -> Int32 {
        guard let text = readScript(path) else { return 1 }
        return guarded {
            try checkVariablesAreUsed(in: text, file: path)
            try interpreter.run(source: text, file: path)
        }
    }

    /// Runs `-c` text: statements separated by `;` (or new lines).
    public func runCommands(_ text: String) -> Int32 {
        guarded {
            try checkVariablesAreUsed(in: text, file: "-c")
            try interpreter.run(source: text, file: "-c")
        }
    }

    /// A NAME=VALUE given on the command line that the text (and the files it includes) never
    /// expands is most likely a typo (`epoch=2` for `epochs=2`): an error, before anything runs.
    func checkVariablesAreUsed(in text: String, file: String) throws {
        guard !session.overrides.isEmpty else { return }
        let used = Self.variablesUsed(in: text, file: file)
        for name in session.overrides.keys.sorted() where !used.contains(name) {
            let known = used.sorted()
            var message = "\(name)=\(session.overrides[name]!) is given on the command line, but \(file) never uses $\(name)"
            message += known.isEmpty ? " (it uses no variables)" : " (it uses \(known.map { "$" + $0 }.joined(separator: ", ")))"
            if let near = nearestName(to: name, in: known) { message += "; did you mean '\(near)'?" }
            throw ShellError(message, at: nil)
        }
    }

    /// The variables `text` and the files it includes expand. Included files are read as
    /// `include` reads them: regular files of at most `maximumScriptSize` bytes, each once.
    static func variablesUsed(in text: String, file: String) -> Set<String> {
        var visited: Set<String> = [file]
        return Lexer.referencedVariables(in: text, including: { path in
            guard visited.insert(path).inserted, visited.count <= 64,
                  let bytes = try? readFileBytes(path, limit: maximumScriptSize, inflate: false) else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        })
    }

    /// Runs a script read from standard input.
    public func runStandardInput() -> Int32 {
        let bytes: [UInt8]
        do {
            bytes = try readCapped(STDIN_FILENO, name: "<stdin>", limit: Runner.maximumScriptSize, shouldStop: { Signals.stopRequested })
        } catch let e as EngineError {
            session.console.writeError("mlpsh: error: \(e.message): a script is at most \(Runner.maximumScriptSize) bytes\n")
            return 1
        } catch {
            session.console.writeError("<stdin>: error: \(error)\n")
            return 1
        }
        return guarded {
            let text = try scriptText(bytes, file: "<stdin>")
            try checkVariablesAreUsed(in: text, file: "<stdin>")
            try interpreter.run(source: text, file: "<stdin>")
        }
    }

    /// Runs `body`, turning errors into messages and exit statuses.
    public func guarded(_ body: () throws -> Void) -> Int32 {
        do {
            try body()
            return 0
        } catch let exit as ShellExit {
            return exit.status
        } catch is Distributed.PeerFailure {
            // Printed once, by the rank that failed first.
        } catch {
            session.console.writeError(errorLine(error))
        }
        return 1
    }

    /// The largest script read: 64 MiB.
    public static let maximumScriptSize = 1 << 26

    private func readScript(_ path: String) -> String? {
        let data: [UInt8]
        do {
            data = try readFileBytes(path, limit: Runner.maximumScriptSize, inflate: false)
        } catch let e as EngineError {
            session.console.writeError("mlpsh: error: \(e.message)\n")
            return nil
        } catch {
            session.console.writeError("mlpsh: error: \(path): cannot be read\n")
            return nil
        }
        do {
            return try scriptText(data, file: path)
        } catch {
            session.console.writeError(errorLine(error))
            return nil
        }
    }
}
