import Foundation

/// A plugin library that loaded, and what it registered.
public struct LoadedPlugin {
    public let name: String
    public let path: String
    public let registered: [(kind: String, names: [String])]
}

/// Loads plugin libraries with dlopen and runs their entry point against the registries.
/// Any failure leaves the registries as they were.
public final class PluginLoader {
    public let registries: Registries
    public private(set) var loaded: [LoadedPlugin] = []

    public init(registries: Registries = .shared) { self.registries = registries }

    /// The folders searched for lib<NAME>.so, in order: each of $MLPSH_PLUGIN_PATH's
    /// (colon-separated), then the release build folder of every plugin under each of `roots`
    /// (ROOT/plugins/*/.build/release).
    public static func searchFolders(environment: [String: String] = ProcessInfo.processInfo.environment,
                                     roots: [String]) -> [String] {
        var folders = (environment["MLPSH_PLUGIN_PATH"] ?? "").split(separator: ":").map(String.init).filter { !$0.isEmpty }
        for root in roots {
            let plugins = (root as NSString).appendingPathComponent("plugins")
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: plugins)) ?? []).sorted()
            for name in names {
                let release = (plugins as NSString).appendingPathComponent("\(name)/.build/release")
                if FileManager.default.fileExists(atPath: release) { folders.append(release) }
            }
        }
        var seen = Set<String>()
        return folders.filter { seen.insert(($0 as NSString).standardizingPath).inserted }
    }

    /// The library a NAME_OR_PATH names: a path (it has a '/' or ends in .so) as given,
    /// otherwise lib<NAME>.so in the first folder that has it.
    public static func resolve(_ nameOrPath: String, folders: [String]) throws -> String {
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".so") {
            guard FileManager.default.fileExists(atPath: nameOrPath) else { throw EngineError("\(nameOrPath): no such file") }
            return nameOrPath
        }
        for folder in folders {
            let candidate = (folder as NSString).appendingPathComponent("lib\(nameOrPath).so")
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        let searched = folders.isEmpty ? "there are no plugin folders" : "lib\(nameOrPath).so is not in " + folders.joined(separator: ", ")
        throw EngineError("no plugin '\(nameOrPath)': \(searched) (set MLPSH_PLUGIN_PATH, or run scripts/build-plugins)")
    }

    /// Refuses a library that anyone may replace: one that is world-writable, or in a folder
    /// that is world-writable without the sticky bit.
    static func checkNotWorldWritable(_ path: String) throws {
        var st = stat()
        if stat(path, &st) == 0, st.st_mode & 0o002 != 0 {
            throw EngineError("\(path) is world-writable: anyone could have replaced it; refused (chmod o-w it)")
        }
        let folder = parentFolder(of: path)
        if stat(folder, &st) == 0, st.st_mode & 0o002 != 0, st.st_mode & UInt32(S_ISVTX) == 0 {
            throw EngineError("\(path) is in \(folder), which is world-writable: anyone could have put it there; refused")
        }
    }

    /// Loads the library at `path`. Returns nil when that plugin is already loaded.
    @discardableResult
    public func load(path: String) throws -> LoadedPlugin? {
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        if loaded.contains(where: { $0.path == real }) { return nil }
        // dlopen waits forever on a FIFO and reads a device: only a regular file is a library.
        var st = stat()
        guard stat(real, &st) == 0 else { throw EngineError("\(path): no such file") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw EngineError("\(path) is not a regular file: refused as a plugin library") }
        try Self.checkNotWorldWritable(real)
        guard let handle = dlopen(real, RTLD_NOW | RTLD_LOCAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw EngineError("\(path): cannot be loaded as a plugin library (\(why))")
        }
        guard let symbol = dlsym(handle, pluginEntryPoint) else {
            dlclose(handle)
            throw EngineError("\(path): not an mlpsh plugin: it has no \(pluginEntryPoint) entry point")
        }
        typealias Entry = @convention(c) (UnsafeMutableRawPointer) -> Int32
        let entry = unsafeBitCast(symbol, to: Entry.self)
        let host = PluginHost(registries: registries)
        let before = RegistryInventory(registries)
        // Everything as it is now, to put back if the plugin is refused: what it added goes,
        // and what it removed or replaced (a `linear` of its own) comes back.
        let restores = registries.all.map { $0.snapshot() }
        let status = entry(Unmanaged.passUnretained(host).toOpaque())
        let after = RegistryInventory(registries)
        let name = host.pluginName ?? (real as NSString).lastPathComponent
        guard status == 0, host.pluginName != nil else {
            // Its types may already be referenced by metadata caches: the library stays mapped,
            // but nothing it registered remains.
            restores.forEach { $0() }
            throw EngineError("plugin \(name) (\(path)) was refused: \(host.failure ?? "its entry point did not call PluginHost.connect")")
        }
        if let same = loaded.first(where: { $0.name == name }) {
            restores.forEach { $0() }
            throw EngineError("plugin \(name) is already loaded from \(same.path)")
        }
        let plugin = LoadedPlugin(name: name, path: real, registered: before.added(in: after))
        loaded.append(plugin)
        return plugin
    }
}
