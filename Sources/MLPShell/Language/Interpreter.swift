import Foundation
import MLPEngine

/// Runs mlpsh text. Scripts, `include`, `-c`, standard input and the REPL all go through
/// `feed(line:)`, one line at a time, so they behave alike; `model` ... `end` blocks may
/// span lines (the REPL shows `...> ` while one is open).
public final class Interpreter {
    public let session: Session
    public let commands: CommandTable
    /// How deep `include` may nest.
    public static let maxIncludeDepth = 16
    private var includeDepth = 0

    /// An open `model` block: where it opened, and its layer statements so far.
    private struct OpenBlock {
        let location: SourceLocation?
        var layers: [(words: [Word], location: SourceLocation?)] = []
        /// Blocks (`residual`, `concat`) opened inside it and not yet ended.
        var depth = 0
    }
    private var block: OpenBlock?

    public init(session: Session, commands: CommandTable? = nil) {
        self.session = session
        self.commands = commands ?? CommandTable(builtinCommands())
        session.interpreter = self
    }

    /// True while a block is open and more lines are needed.
    public var isInBlock: Bool { block != nil }

    /// Runs one line. Errors come back as ShellError at `location` (nil in the REPL).
    public func feed(line: String, location: SourceLocation?) throws {
        do {
            for statement in try Lexer.statements(in: line) {
                try execute(statement, location: location)
            }
        } catch let e as EngineError {
            throw ShellError(e.shellText, at: location)
        } catch let e as SQLiteError {
            // The run history's own errors are the statement's too.
            throw ShellError(e.message, at: location)
        }
    }

    /// Runs a whole text (a script, an included file, `-c` commands) named `file`.
    /// Stops at the first error; a block left open at the end is an error at its `model` line.
    public func run(source: String, file: String) throws {
        let saved = block
        block = nil
        defer { block = saved }
        var number = 0
        for line in source.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            number += 1
            try feed(line: String(line), location: SourceLocation(file: file, line: number))
        }
        try closeInput()
    }

    /// Ends the input: an open block is an error.
    public func closeInput() throws {
        if let open = block {
            block = nil
            throw ShellError("'model' block is not closed: expected 'end'", at: open.location)
        }
    }

    /// Drops an open block (Ctrl-C at the continuation prompt).
    public func cancelBlock() { block = nil }

    /// Runs the file at `path` as a script, reporting errors at its own lines.
    /// Runs the script at `path`. `variables` are defined for it as on the command line: they
    /// win over its `set` while it runs (then the session's own come back), and each must be used.
    public func include(path: String, variables: [String: String] = [:]) throws {
        guard includeDepth < Self.maxIncludeDepth else {
            throw EngineError("include is nested more than \(Self.maxIncludeDepth) deep (does a file include itself?)")
        }
        let text = try scriptText(try readFileBytes(path, limit: Runner.maximumScriptSize, inflate: false), file: path)
        if !variables.isEmpty {
            let used = Runner.variablesUsed(in: text, file: path)
            for name in variables.keys.sorted() where !used.contains(name) {
                let known = used.sorted()
                var message = "include: \(name)=\(variables[name]!) is given, but \(path) never uses $\(name)"
                message += known.isEmpty ? " (it uses no variables)" : " (it uses \(known.map { "$" + $0 }.joined(separator: ", ")))"
                if let near = nearestName(to: name, in: known) { message += "; did you mean '\(near)'?" }
                throw EngineError(message)
            }
        }
        let saved = session.overrides
        session.overrides.merge(variables) { _, given in given }
        includeDepth += 1
        defer {
            includeDepth -= 1
            session.overrides = saved
        }
        try run(source: text, file: path)
    }

    private func execute(_ statement: String, location: SourceLocation?) throws {
        guard let group = Distributed.group else {
            try session.checkSignals()
            try perform(statement, location: location)
            return
        }
        // Under mpirun every rank runs the same statements: after each, the ranks agree on
        // whether any failed (or was told to stop), so that all stop together.
        var failure: Error?
        do {
            try perform(statement, location: location)
        } catch let e as Distributed.PeerFailure {
            throw e
        } catch let e as ShellExit where Signals.endingSignal == nil {
            throw e  // quit: every rank runs it
        } catch {
            failure = error
        }
        if failure == nil, let sig = Signals.endingSignal { failure = EngineError("stopped by \(Signals.name(sig))") }
        try ParallelJob.agree(group, failure: failure.map { e in (e as? EngineError).map { ShellError($0.message, at: location) } ?? e })
    }

    /// Adds statements that took effect to the session's transcript, as script text with their
    /// variables expanded: what `runs show` gives as a run's source, replayable as it is.
    private func record(_ lines: [String]) {
        session.transcript += lines
        if session.transcript.count > 10_000 { session.transcript.removeFirst(session.transcript.count - 10_000) }
    }

    private func perform(_ statement: String, location: SourceLocation?) throws {
        let words = try Lexer.words(in: statement, variables: session.variable)
        guard let first = words.first else { return }
        let text = { (words: [Word]) in words.map(\.scriptText).joined(separator: " ") }
        if block != nil {
            if first.text == "end" && !first.quoted && block!.depth == 0 {
                guard words.count == 1 else { throw EngineError("'end' takes no arguments") }
                let open = block!
                block = nil
                let model = try buildModel(open.layers)
                record(["model"] + model.definition.split(separator: "\n").map { "  " + $0 } + ["end"])
            } else if first.text == "model" && !first.quoted {
                throw EngineError("'model' inside a model block: close the first with 'end'")
            } else {
                // In place (no other reference to the block's lines): a copy of the block a line
                // made a block of N lines cost N².
                block!.layers.append((words, location))
                if !first.quoted, first.text == "end" {
                    block!.depth -= 1
                } else if !first.quoted, session.registries.layers.contains(first.text),
                          (try? session.registries.layers.lookup(first.text))?.separator != nil {
                    block!.depth += 1
                }
            }
            return
        }
        switch first.text {
        case "model":
            guard words.count == 1 else { throw EngineError("'model' takes no arguments: layers go on the lines after it, then 'end'") }
            block = OpenBlock(location: location)
        case "end":
            throw EngineError("'end' without 'model'")
        default:
            let inv = Invocation(words: words, location: location)
            try commands.find(inv.name).invoke(inv, session)
            // An include's own statements are recorded as they run; asking for help, the run
            // history and leaving change nothing a replay needs.
            if !["include", "runs", "help", "quit", "exit"].contains(inv.name) { record([text(words)]) }
        }
    }

    /// Describes the block's lines as layer specs (blocks nest, see ModelText) and has the
    /// engine build the model, each layer fed the shape the one before gives; an error is
    /// reported at the layer's own line.
    private func buildModel(_ lines: [(words: [Word], location: SourceLocation?)]) throws -> Sequential {
        let (specs, locations) = try ModelText.specs(lines, registries: session.registries)
        do {
            let model = try Sequential.build(specs, inputShape: session.dataShape,
                                             registries: session.registries, random: session.random)
            session.setModel(model)
            return model
        } catch let e as LayerBuildError {
            // An empty block is reported at its 'end'.
            guard e.index < locations.count else { throw EngineError(e.shellText) }
            throw ShellError(e.shellText, at: locations[e.index])
        }
    }
}
