/// The engine's version. A plugin passes the value it was compiled with (this body is
/// compiled into the plugin, not called in the engine) and a plugin built against another
/// engine is refused.
@_alwaysEmitIntoClient
public var engineVersion: String { "0.8.0" }

/// The name of the C entry point every plugin library exports:
///
///     @_cdecl("mlpsh_plugin_init")
///     public func mlpshPluginInit(_ host: UnsafeMutableRawPointer) -> Int32 {
///         PluginHost.connect(host, plugin: "Activations", builtAgainst: engineVersion) { registries in
///             try registries.layers.register(...)
///         }
///     }
public let pluginEntryPoint = "mlpsh_plugin_init"

/// What mlpsh hands a plugin's entry point: the registries to add to. The plugin answers
/// through `connect`, which checks its engine version before it registers anything.
public final class PluginHost {
    public let registries: Registries
    /// Set by `connect`.
    public internal(set) var pluginName: String?
    public internal(set) var builtAgainst: String?
    /// Why the plugin failed, when it did.
    public internal(set) var failure: String?

    init(registries: Registries) { self.registries = registries }

    /// Called by a plugin's entry point with the `host` pointer it was given. Returns 0 when
    /// everything registered; otherwise 1, with the reason kept for mlpsh to report.
    public static func connect(_ host: UnsafeMutableRawPointer, plugin name: String, builtAgainst version: String,
                               register: (Registries) throws -> Void) -> Int32 {
        let me = Unmanaged<PluginHost>.fromOpaque(host).takeUnretainedValue()
        me.pluginName = name
        me.builtAgainst = version
        guard version == engineVersion else {
            me.failure = "it was built against engine \(version) but this mlpsh has \(engineVersion): rebuild it (scripts/build-plugins)"
            return 1
        }
        do {
            try register(me.registries)
            return 0
        } catch {
            me.failure = "\(error)"
            return 1
        }
    }
}

/// The names in every registry, by kind; a plugin's additions are the difference.
public struct RegistryInventory: Equatable {
    public var names: [String: [String]]

    /// The kinds' keys, in the registries' order.
    public let kinds: [String]

    public init(_ r: Registries) {
        kinds = r.all.map(\.key)
        names = Dictionary(uniqueKeysWithValues: r.all.map { ($0.key, $0.names) })
    }

    /// What `after` has that `self` had not, by kind (kinds with nothing new left out).
    public func added(in after: RegistryInventory) -> [(kind: String, names: [String])] {
        after.kinds.compactMap { kind in
            let old = Set(names[kind] ?? [])
            let new = (after.names[kind] ?? []).filter { !old.contains($0) }
            return new.isEmpty ? nil : (kind, new)
        }
    }

    /// Unregisters everything `after` added, leaving the registries as `self` found them.
    public func rollBack(_ r: Registries, from after: RegistryInventory) {
        for (kind, names) in added(in: after) {
            guard let registry = r.kind(key: kind) else { continue }
            for name in names { registry.unregister(name) }
        }
    }
}
