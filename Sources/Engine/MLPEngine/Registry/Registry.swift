/// One registered name: what `help NAME` shows and the factory that makes the thing.
public struct RegistryEntry<Factory> {
    public let name: String
    /// One line for listings.
    public let summary: String
    /// The words after the name ("[IN] OUT"), empty when it takes none.
    public let usage: String
    public let options: [OptionSpec]
    /// More text for `help NAME`: the formula, caveats.
    public let details: String
    public let example: String
    public let make: Factory

    public init(name: String, summary: String, usage: String = "", options: [OptionSpec] = [],
                details: String = "", example: String = "", make: Factory) {
        self.name = name
        self.summary = summary
        self.usage = usage
        self.options = options
        self.details = details
        self.example = example
        self.make = make
    }
}

/// A map from name to entry for one kind of thing (layer, loss, ...), in the manner of
/// Caffe's layer factory: registering a name twice is an error, and an unknown name fails
/// with the known ones and the nearest match.
public final class Registry<Factory> {
    /// "layer", "loss", ...: for messages.
    public let kind: String
    private var entries: [String: RegistryEntry<Factory>] = [:]
    /// Names in registration order, for listings.
    public private(set) var names: [String] = []

    public init(kind: String) { self.kind = kind }

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
}

func isValidName(_ s: String) -> Bool {
    guard let first = s.unicodeScalars.first, first.properties.isAlphabetic else { return false }
    return s.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
}

public typealias LayerFactory = (LayerArguments) throws -> Layer
public typealias LossFactory = (Options) throws -> Loss
public typealias OptimizerFactory = (Options) throws -> Optimizer
public typealias DatasetFactory = (DatasetArguments) throws -> Dataset
public typealias ScheduleFactory = (Options) throws -> Schedule
public typealias InitFactory = (Options) throws -> InitScheme

/// Every registry, one per kind. Built-ins are registered by `Registries.shared`'s first use;
/// a plugin's entry point is handed the same object and calls the same `register`.
public final class Registries {
    public let layers = Registry<LayerFactory>(kind: "layer")
    public let losses = Registry<LossFactory>(kind: "loss")
    public let optimizers = Registry<OptimizerFactory>(kind: "optimizer")
    public let datasets = Registry<DatasetFactory>(kind: "dataset")
    public let schedules = Registry<ScheduleFactory>(kind: "schedule")
    public let initializers = Registry<InitFactory>(kind: "init scheme")

    public init() {}

    nonisolated(unsafe) public static let shared: Registries = {
        let r = Registries()
        do { try r.registerBuiltins() } catch { fatalError("built-in registration failed: \(error)") }
        return r
    }()
}
