import Foundation
import MLPEngine

/// plugin load/list, and gradcheck, which checks any registered layer or loss (a plugin's too)
/// against finite differences.
func pluginCommands() -> [Command] {
    [
        Command(name: "plugin", group: "Extending", usage: "plugin load NAME_OR_PATH | plugin list",
                summary: "loads a plugin library: its layers, losses, optimizers and datasets can be used at once",
                details: """
                NAME is found as lib<NAME>.so in the folders of $MLPSH_PLUGIN_PATH (colon-separated), then in
                plugins/*/.build/release beside mlpsh's package (scripts/build-plugins builds them); never in
                the current folder unless given as a path. A path (with a '/' or ending in .so) is loaded as
                given. A world-writable library, or one in a world-writable folder without the sticky bit, is
                refused. Loading a plugin again does nothing. A library that is refused leaves every registry
                as it was, even one it replaced.
                """,
                arguments: [.word, .path], example: "plugin load Activations", run: { inv, _, s in
                    guard let verb = inv.positional.first else {
                        throw EngineError("missing argument: expected 'plugin load NAME_OR_PATH' or 'plugin list'")
                    }
                    switch verb {
                    case "load":
                        try expectArguments(inv, 2...2, usage: "plugin load NAME_OR_PATH")
                        let path = try PluginLoader.resolve(inv.positional[1], folders: pluginFolders())
                        if let p = try s.plugins.load(path: path) {
                            s.console.print("loaded plugin \(p.name): " + describe(p.registered))
                        }
                    case "list":
                        try expectArguments(inv, 1...1, usage: "plugin list")
                        if s.plugins.loaded.isEmpty { s.console.print("no plugins loaded") }
                        for p in s.plugins.loaded { s.console.print("\(p.name)  \(p.path)\n  " + describe(p.registered)) }
                    default:
                        var msg = "unknown plugin command '\(verb)': expected load or list"
                        if let near = nearestName(to: verb, in: ["load", "list"]) { msg += "; did you mean '\(near)'?" }
                        throw EngineError(msg)
                    }
                }),
        Command(name: "gradcheck", group: "Extending", usage: "gradcheck [NAME ...]",
                summary: "checks layers' and losses' gradients against finite differences (all registered, or those named)",
                details: "Caffe's rule: |analytic - estimate| <= 1e-3 · max(|analytic|, |estimate|, 1), central differences of 1e-2.\nEach layer is built on 5 inputs and checked in evaluation and training mode.",
                arguments: [.layer], example: "gradcheck gelu silu", run: { inv, _, s in
                    let r = s.registries
                    let names = inv.positional.isEmpty ? r.layers.names + r.losses.names : inv.positional
                    var failed = 0
                    for name in names {
                        let reports: [GradientCheck.Report]
                        if r.layers.contains(name) {
                            reports = try GradientCheck.layer(named: name, in: r)
                        } else if r.losses.contains(name) {
                            reports = [try GradientCheck.loss(named: name, in: r)]
                        } else {
                            throw EngineError(unknownNameMessage(kind: "layer or loss", name: name, known: r.layers.names + r.losses.names))
                        }
                        for report in reports {
                            s.console.print((report.passed ? "ok    " : "FAIL  ") + report.label + "  (\(report.comparisons) derivatives)")
                            for f in report.failures.prefix(5) { s.console.print("      " + f) }
                            if !report.passed { failed += 1 }
                        }
                    }
                    if failed > 0 { throw EngineError("\(failed) gradient check\(failed == 1 ? "" : "s") failed") }
                }),
    ]
}

/// "layer: gelu, silu; loss: focal".
private func describe(_ registered: [(kind: String, names: [String])]) -> String {
    registered.isEmpty ? "registered nothing" : registered.map { "\($0.kind): " + $0.names.joined(separator: ", ") }.joined(separator: "; ")
}

/// $MLPSH_PLUGIN_PATH, then plugins/*/.build/release under mlpsh's package (found upwards from
/// the executable) and under the current folder.
func pluginFolders() -> [String] {
    var roots: [String] = []
    let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "/"
    var dir = URL(fileURLWithPath: executable).deletingLastPathComponent()
    for _ in 0..<5 {
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("plugins").path)
            && FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
            roots.append(dir.path)
            break
        }
        dir.deleteLastPathComponent()
    }
    // Not the current folder: as '.' in PATH, it would load whatever a folder one happens to be
    // in holds. A plugin there is loaded by its path (plugin load ./libX.so).
    return PluginLoader.searchFolders(roots: roots)
}
