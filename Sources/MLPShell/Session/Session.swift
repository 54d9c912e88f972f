import Foundation
import MLPEngine

/// Where the shell writes: ordinary output and diagnostics. Tests capture both.
public final class Console {
    public var write: (String) -> Void
    public var writeError: (String) -> Void
    /// Whether standard error is a terminal on which a progress bar may be drawn.
    public var showsProgress: Bool
    /// Whether standard output is a terminal, where pictures (predict's image) are drawn.
    public var isTerminal = false
    /// Where figures go as data, by MIME type ("image/svg+xml", "image/png" base64,
    /// "text/plain"), when the front end shows them (the notebook kernel); nil at a terminal.
    public var display: (([String: Any]) -> Void)?
    /// Where `train` shows its progress line when the front end updates one display in place
    /// (the notebook kernel), instead of a bar on standard error.
    public var progressDisplay: ((String) -> Void)?

    public init(write: @escaping (String) -> Void, writeError: @escaping (String) -> Void, showsProgress: Bool = false) {
        self.write = write
        self.writeError = writeError
        self.showsProgress = showsProgress
    }

    /// Standard output and standard error, unbuffered line by line.
    public static func standard() -> Console {
        Console(write: { StandardStreams.write($0, to: STDOUT_FILENO) },
                writeError: { StandardStreams.write($0, to: STDERR_FILENO) })
    }

    public func print(_ line: String) { write(line + "\n") }
}

/// Everything a session has built: variables, data sets, the model, its loss and optimizer,
/// and the history of the epochs trained. Commands read and change it.
public final class Session {
    public let registries: Registries
    public let console: Console
    public let random = RandomGenerator(seed: 0)

    public var variables: [String: String] = [:]
    /// Variables given on the command line: they win over `set`.
    public var overrides: [String: String] = [:]
    /// Whether commands are typed at the prompt (which says what a quiet command did).
    public var atPrompt = false

    /// Data sets by name ("train", "test", ...), in the order loaded.
    public var datasets: [String: Dataset] = [:]

    /// The shape of one sample, which a model's first layer takes: train's, else test's, else
    /// that of the first data set by name.
    public var dataShape: [Int]? {
        (datasets["train"] ?? datasets["test"] ?? datasets.keys.sorted().first.flatMap { datasets[$0] })?.sampleShape
    }
    public private(set) var model: Sequential?
    public var loss: Loss?
    public private(set) var optimizer: Optimizer?
    public var schedule: Schedule = .none
    /// One entry per finished epoch; its count is the next epoch's number.
    public var history: [EpochResult] = []
    /// The last `normalize`, or a loaded file's: saved with the model and applied by `predict`.
    public var normalization: Normalization?
    /// Whether a long command should stop after its current batch or step: a Ctrl-C, or a
    /// signal ending mlpsh (see Signals).
    public var interruptRequested: () -> Bool = { Signals.stopRequested }
    /// Every statement the session has run, in order (at most the last 10,000): what defined
    /// a run, as the run history records it.
    public internal(set) var transcript: [String] = []
    /// The run history (RunStore): every `train` is recorded.
    lazy var runs = RunRecorder(console: console)
    /// The plugin libraries loaded into this session's registries.
    public lazy var plugins = PluginLoader(registries: registries)
    /// The interpreter running this session, for `include`.
    public weak var interpreter: Interpreter?

    public init(registries: Registries = .shared, console: Console) {
        self.registries = registries
        self.console = console
    }

    /// Acts on a signal between statements: one ending mlpsh ends the run (exit status 128 +
    /// the signal); a Ctrl-C at the prompt drops the rest of the line.
    public func checkSignals() throws {
        if let sig = Signals.endingSignal { throw ShellExit(status: 128 + sig) }
        if Signals.takeInterrupt() { throw EngineError("interrupted: the rest of the line is not run") }
    }

    public func variable(_ name: String) -> String? { overrides[name] ?? variables[name] }

    /// Installs a new model and starts the history over. The optimizer binds to its
    /// parameters when it is next used (its state starts over then).
    public func setModel(_ model: Sequential) {
        self.model = model
        history = []
    }

    /// Installs an optimizer; it binds to the model's parameters when it is first used.
    public func setOptimizer(_ optimizer: Optimizer) {
        self.optimizer = optimizer
    }

    /// Takes what a checkpoint holds, all at once: its weights (and its model, when it built
    /// one), then its history, loss, schedule, optimizer (already bound, its state restored
    /// when the file resumes) and random state, each only when the file has it.
    public func install(_ c: Checkpoint) {
        c.commit()
        if c.isNewModel {
            model = c.model
            history = []
        }
        if let h = c.history { history = h }
        // A file saved to resume (optimizer=true) brings back its training as it was; any other
        // fills in only what the session has not chosen itself.
        if let l = c.loss, c.resumes || loss == nil { loss = l }
        if let sc = c.schedule, c.resumes || schedule.definition == Schedule.none.definition { schedule = sc }
        if let o = c.optimizer, c.resumes || optimizer == nil { optimizer = o }
        if let r = c.randomState { random.source = r }
        if let n = c.normalization { normalization = n }
    }

    /// Forgets the model, loss, optimizer, schedule and history; data sets and variables stay.
    public func reset() {
        model = nil
        loss = nil
        optimizer = nil
        schedule = .none
        history = []
    }

    public func requireModel() throws -> Sequential {
        guard let model else { throw EngineError("no model yet: define one with 'model' ... 'end'") }
        return model
    }

    public func requireDataset(_ name: String) throws -> Dataset {
        guard let d = datasets[name] else {
            throw EngineError("no '\(name)' data set: load one with 'data \(name) mnist split=\(name == "test" ? "test" : "train")'")
        }
        return d
    }


}
