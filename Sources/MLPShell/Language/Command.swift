import MLPEngine

/// What a positional word of a command names, so completion can offer the right things.
public enum ArgumentKind: Sendable {
    /// A command, or any registered name.
    case command
    /// A name in the registry with this key ("layer", "loss", ...: `Registries.all`).
    case registry(String)
    case path, variable, word
    /// A run id from the run history.
    case run

    public static let layer = ArgumentKind.registry("layer")
    public static let loss = ArgumentKind.registry("loss")
    public static let optimizer = ArgumentKind.registry("optimizer")
    public static let dataset = ArgumentKind.registry("dataset")
    public static let schedule = ArgumentKind.registry("schedule")
    public static let initializer = ArgumentKind.registry("init")
}

/// One command of the language: the single source of dispatch, `help` and completion,
/// in the manner of the sqlite3 shell's command table.
public struct Command {
    public let name: String
    /// The heading `help` lists it under.
    public let group: String
    /// "train epochs=N batch=B [shuffle=true]"
    public let usage: String
    public let summary: String
    public let details: String
    public let options: [OptionSpec]
    /// What each positional word names, for completion (the last repeats).
    public let arguments: [ArgumentKind]
    public let example: String
    /// True when the options belong to the registry entry the command names (data, loss,
    /// optim, ...), which checks them; otherwise they are checked against `options`.
    public let delegatesOptions: Bool
    public let run: (Invocation, Options, Session) throws -> Void

    public init(name: String, group: String, usage: String, summary: String, details: String = "",
                options: [OptionSpec] = [], arguments: [ArgumentKind] = [], example: String = "",
                delegatesOptions: Bool = false, run: @escaping (Invocation, Options, Session) throws -> Void) {
        self.name = name
        self.group = group
        self.usage = usage
        self.summary = summary
        self.details = details
        self.options = options
        self.arguments = arguments
        self.example = example
        self.delegatesOptions = delegatesOptions
        self.run = run
    }

    /// Runs the command, its options checked first unless it delegates them.
    public func invoke(_ inv: Invocation, _ session: Session) throws {
        if let key = inv.repeatedOption, name != "echo" { throw EngineError("option '\(key)=' is given twice") }
        let checked = try Options(delegatesOptions ? [:] : inv.options, specs: options, owner: name)
        try run(inv, checked, session)
    }
}

/// The groups `help` shows, in order.
public let commandGroups = ["Data", "Model", "Training", "Results", "Checkpoints", "Extending", "Session"]

/// Every command, by name.
public final class CommandTable {
    public private(set) var commands: [Command] = []

    public init(_ commands: [Command]) { self.commands = commands }

    public func add(_ command: Command) throws {
        guard lookup(command.name) == nil else { throw EngineError("command '\(command.name)' is already defined") }
        commands.append(command)
    }

    public func lookup(_ name: String) -> Command? { commands.first { $0.name == name } }

    public var names: [String] { commands.map(\.name) }

    /// The command, or an error naming the known ones and the nearest.
    public func find(_ name: String) throws -> Command {
        if let c = lookup(name) { return c }
        var msg = "unknown command '\(name)'"
        if let near = nearestName(to: name, in: names) { msg += "; did you mean '\(near)'?" }
        else { msg += " (type 'help' for the list)" }
        throw EngineError(msg)
    }
}
