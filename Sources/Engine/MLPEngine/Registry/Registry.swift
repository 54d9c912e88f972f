/// One registered name: what `help NAME` shows and the factory that makes the thing.
@dynamicMemberLookup
public struct RegistryEntry<Factory> {
    /// The text: name, summary, usage, options, details, example.
    public let help: RegistryHelp
    public let make: Factory
    /// For a layer that is a block of layers (`residual`): the word that starts each of its
    /// lists after the first (`shortcut`), up to its `end`. Nil for everything else.
    public let separator: String?

    public init(name: String, summary: String, usage: String = "", options: [OptionSpec] = [],
                details: String = "", example: String = "", separator: String? = nil, make: Factory) {
        help = RegistryHelp(name: name, summary: summary, usage: usage, options: options, details: details, example: example)
        self.separator = separator
        self.make = make
    }

    public subscript<T>(dynamicMember path: KeyPath<RegistryHelp, T>) -> T { help[keyPath: path] }
}

/// A map from name to entry for one kind of thing (layer, loss, ...), in the manner of
/// Caffe's layer factory: registering a name twice is an error, and an unknown name fails
/// with the known ones and the nearest match.
public final class Registry<Factory>: RegistryKind {
    /// "layer", "loss", ...: for messages.
    public let kind: String
    public let key: String
    public let title: String
    public let command: String
    private var entries: [String: RegistryEntry<Factory>] = [:]
    /// Names in registration order, for listings.
    public private(set) var names: [String] = []

    /// `kind` for messages ("init scheme"), `key` for listings ("init"), `title` for help
    /// ("Inits"), `command` the words that use an entry ("init"; empty for layers).
    public init(kind: String, key: String? = nil, title: String? = nil, command: String = "") {
        self.kind = kind
        self.key = key ?? kind
        self.title = title ?? kind.prefix(1).uppercased() + kind.dropFirst() + "s"
        self.command = command
    }

    public func help(_ name: String) -> RegistryHelp? { entries[name]?.help }

    /// A closure that puts the registry back as it is now: what was added since goes, and
    /// what was removed or replaced comes back.
    public func snapshot() -> () -> Void {
        let (savedEntries, savedNames) = (entries, names)
        return { [unowned self] in
            self.entries = savedEntries
            self.names = savedNames
        }
    }

    public func register(_ entry: RegistryEntry<Factory>) throws {
        guard entries[entry.name] == nil else {
            throw EngineError("\(kind) '\(entry.name)' is already registered")
        }
        guard isValidName(entry.name) else {
            throw EngineError("'\(entry.name)' is not a valid \(kind) name (letters, digits and _, starting with a letter)")
        }
        entries[entry.name] = entry
        names.append(entry.name)
    }

    /// Removes `name`; used to roll back a plugin whose registration failed part-way.
    public func unregister(_ name: String) {
        entries[name] = nil
        names.removeAll { $0 == name }
    }

    public func lookup(_ name: String) throws -> RegistryEntry<Factory> {
        if let e = entries[name] { return e }
        throw EngineError(unknownNameMessage(kind: kind, name: name, known: names))
    }

    public func contains(_ name: String) -> Bool { entries[name] != nil }

    public var all: [RegistryEntry<Factory>] { names.compactMap { entries[$0] } }

    /// The words that take an entry, and its name: "loss cross_entropy", "conv2d" (for messages).
    func owner(_ name: String) -> String {
        command.isEmpty ? name : "\(command.split(separator: " ")[0]) \(name)"
    }

    /// Registers each entry, in order.
    public func register(_ entries: [RegistryEntry<Factory>]) throws {
        for e in entries { try register(e) }
    }

    /// The component `spec` describes, made by its entry: the one way a spec becomes a thing,
    /// whatever its kind. The spec's options are checked against the entry's; the rest of the
    /// arguments (input shape, random source, limits, how to build a block's lists) are given
    /// where the kind needs them.
    public func make<Component>(_ spec: Spec, inputShape: [Int]? = nil, random: RandomGenerator = RandomGenerator(seed: 0),
                                limits: ModelLimits = .standard, registries: Registries = .shared,
                                buildList: ((Int, [Int]?) throws -> [Layer])? = nil,
                                warn: @escaping (String) -> Void = { _ in }) throws -> Component
    where Factory == (Arguments) throws -> Component {
        let entry = try lookup(spec.name)
        if entry.separator == nil, !spec.blocks.isEmpty {
            throw EngineError("\(spec.name) is a \(kind), not a block: it holds no layers")
        }
        let options = try Options(spec.optionValues, specs: entry.options, owner: owner(spec.name))
        var arguments = Arguments(positional: spec.args, options: options, inputShape: inputShape, random: random, limits: limits,
                                  blocks: spec.blocks, registries: registries, buildList: buildList)
        arguments.warn = warn
        return try entry.make(arguments)
    }
}

/// What every registry offers without its factory type: names, help, and removal.
public protocol RegistryKind: AnyObject {
    var kind: String { get }
    var key: String { get }
    var title: String { get }
    var command: String { get }
    var names: [String] { get }
    func contains(_ name: String) -> Bool
    func unregister(_ name: String)
    func help(_ name: String) -> RegistryHelp?
    func snapshot() -> () -> Void
}

/// An entry's text for `help NAME` and completion.
public struct RegistryHelp {
    public let name: String
    /// One line for listings.
    public let summary: String
    /// The words after the name ("[IN] OUT"), empty when it takes none.
    public let usage: String
    public let options: [OptionSpec]
    /// More text for `help NAME`: the formula, caveats.
    public let details: String
    public let example: String
}

func isValidName(_ s: String) -> Bool {
    guard let first = s.unicodeScalars.first, first.properties.isAlphabetic else { return false }
    return s.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
}

/// Every factory takes the one argument type, Arguments.
public typealias LayerFactory = (Arguments) throws -> Layer
public typealias LossFactory = (Arguments) throws -> Loss
public typealias OptimizerFactory = (Arguments) throws -> Optimizer
public typealias DatasetFactory = (Arguments) throws -> Dataset
public typealias ScheduleFactory = (Arguments) throws -> Schedule
public typealias InitFactory = (Arguments) throws -> InitScheme

/// Every registry, one per kind. Built-ins are registered by `Registries.shared`'s first use;
/// a plugin's entry point is handed the same object and calls the same `register`.
public final class Registries {
    public let layers = Registry<LayerFactory>(kind: "layer")
    public let losses = Registry<LossFactory>(kind: "loss", title: "Losses", command: "loss")
    public let optimizers = Registry<OptimizerFactory>(kind: "optimizer", command: "optim")
    public let datasets = Registry<DatasetFactory>(kind: "dataset", command: "data NAME")
    public let schedules = Registry<ScheduleFactory>(kind: "schedule", command: "schedule")
    public let initializers = Registry<InitFactory>(kind: "init scheme", key: "init", title: "Inits", command: "init")

    public init() {}

    /// Every kind, in the order help lists them: the one list that names them. Help,
    /// completion, `plugin list` and plugin rollback walk it.
    public var all: [RegistryKind] { [layers, losses, optimizers, datasets, schedules, initializers] }

    /// The registry whose entries the command `name` takes (loss → losses, data → datasets).
    public func kind(forCommand name: String) -> RegistryKind? {
        all.first { !$0.command.isEmpty && $0.command.split(separator: " ").first.map(String.init) == name }
    }

    /// The registry with listing key `key` ("layer", "init").
    public func kind(key: String) -> RegistryKind? { all.first { $0.key == key } }

    nonisolated(unsafe) public static let shared: Registries = {
        let r = Registries()
        do { try r.registerBuiltins() } catch { fatalError("built-in registration failed: \(error)") }
        return r
    }()
}
