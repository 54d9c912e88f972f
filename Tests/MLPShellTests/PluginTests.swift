import Foundation
import XCTest
@testable import MLPShell
import MLPEngine

/// The plugins under plugins/, built by scripts/build-plugins, loaded into real mlpsh
/// processes; and libraries that must be refused, each leaving mlpsh running and the
/// registries as they were.
final class PluginTests: FolderTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        for name in ["Activations", "Tabular", "Swish"] where !FileManager.default.fileExists(atPath: Self.library(name)) {
            XCTFail("\(Self.library(name)) is missing: run scripts/build-plugins")
            throw XCTSkip("plugins not built")
        }
    }

    static func library(_ name: String) -> String {
        Fixtures.packageFolder.appendingPathComponent("plugins/\(name)/.build/release/lib\(name).so").path
    }

    private func mlpsh(_ commands: String, environment: [String: String?] = [:]) throws -> Fixtures.ProcessResult {
        try Fixtures.mlpsh(["-c", commands], in: folder, environment: environment)
    }

    // MARK: - The two plugins in a real process

    func testLoadedLayersAppearInHelp() throws {
        let r = try mlpsh("plugin load Activations; help; help gelu")
        XCTAssertEqual(r.status, 0, r.err)
        let layers = try XCTUnwrap(r.out.split(separator: "\n").first { $0.hasPrefix("Layers:") })
        for name in ["gelu", "silu", "elu", "softplus", "mish"] { XCTAssertTrue(layers.contains(name), "\(name) in \(layers)") }
        XCTAssertTrue(r.out.contains("approximate"), "help gelu shows its option:\n\(r.out)")
        XCTAssertTrue(r.out.contains("loaded plugin Activations: layer: gelu, silu, elu, softplus, mish"), r.out)
    }

    func testPluginPathAndLoadingTwice() throws {
        let dir = (Self.library("Activations") as NSString).deletingLastPathComponent
        let r = try mlpsh("plugin load Activations; plugin load Activations; plugin load \(Self.library("Activations")); plugin list",
                          environment: ["MLPSH_PLUGIN_PATH": "/nonexistent:\(dir)"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out.components(separatedBy: "loaded plugin Activations").count, 2, "loaded once:\n\(r.out)")
        XCTAssertTrue(r.out.contains("Activations  "), r.out)
        let missing = try mlpsh("plugin load Nope", environment: ["MLPSH_PLUGIN_PATH": dir])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.err.contains("libNope.so is not in \(dir)"), missing.err)
    }

    func testGradientCheckPassesOnEveryPluginLayerAndLoss() throws {
        let r = try mlpsh("plugin load Activations; plugin load Tabular; gradcheck")
        XCTAssertEqual(r.status, 0, r.out + r.err)
        for name in ["gelu", "silu", "elu", "softplus", "mish", "layer_norm", "focal", "linear 4", "cross_entropy"] {
            XCTAssertTrue(r.out.contains("ok    \(name)"), "\(name) checked:\n\(r.out)")
        }
        XCTAssertFalse(r.out.contains("FAIL"), r.out)
    }

    private func losses(_ out: String) -> [Double] {
        out.split(separator: "\n").compactMap { line in
            line.range(of: "train_loss:").flatMap { Double(line[$0.upperBound...].prefix { $0 != "," }) }
        }
    }

    func testAModelWithGELUAndSiLUTrainsWithAdam() throws {
        let r = try mlpsh("""
            plugin load Activations; seed 0
            data train synthetic classes=4 features=6 n=800; data test synthetic classes=4 features=6 n=200
            model; linear 6 32; gelu; linear 32 32; silu; linear 32 16; mish; linear 16 4; end
            loss cross_entropy; optim adam lr=0.01; train epochs=8 batch=32 shuffle=true
            """)
        XCTAssertEqual(r.status, 0, r.err)
        let l = losses(r.out)
        XCTAssertEqual(l.count, 8, r.out)
        XCTAssertLessThan(l.last!, l.first! * 0.5, "the loss falls:\n\(r.out)")
    }

    func testTabularPluginReadsCSVAndTrainsWithLayerNormFocalAndLion() throws {
        var csv = "a,b,label\n"
        var random = RandomSource(seed: 3)
        for i in 0..<300 {
            let k = i % 3
            csv += String(format: "%.4f,%.4f,%@\n", Double(k) * 2 + Double(random.normal()) * 0.5,
                          Double(k % 2) * 2 + Double(random.normal()) * 0.5, ["low", "mid", "high"][k])
        }
        let file = folder.appendingPathComponent("points.csv").path
        try csv.write(toFile: file, atomically: true, encoding: .utf8)
        let weights = folder.appendingPathComponent("tab.safetensors").path
        let r = try mlpsh("""
            plugin load Tabular; seed 0; data train csv path=\(file)
            model; linear 2 16; layer_norm; relu; linear 16 3; end
            loss focal gamma=2; optim lion lr=0.003; train epochs=10 batch=30 shuffle=true; save \(weights)
            """)
        XCTAssertEqual(r.status, 0, r.err)
        let l = losses(r.out)
        XCTAssertLessThan(l.last!, l.first! * 0.5, r.out)
        // The layer_norm weights and bias go to the file as 1-D tensors, and come back.
        let back = try mlpsh("plugin load Tabular; load \(weights); summary")
        XCTAssertEqual(back.status, 0, back.err)
        XCTAssertTrue(back.out.contains("1 layer_norm"), back.out)
        let without = try mlpsh("load \(weights)")
        XCTAssertEqual(without.status, 1)
        XCTAssertTrue(without.err.contains("unknown layer 'layer_norm'") && without.err.contains("plugin load"), without.err)
        let bad = try mlpsh("plugin load Tabular; data train csv path=\(file) label=nope")
        XCTAssertTrue(bad.err.contains("no label column 'nope' among a, b, label"), bad.err)
    }

    /// plugins/README.md's guide: its code is plugins/Swish as it is (so it cannot drift), and
    /// that plugin builds (scripts/build-plugins), loads, documents itself and passes gradcheck.
    func testTheGuidesPluginIsTheCodeThatBuildsAndPassesGradcheck() throws {
        let root = Fixtures.packageFolder
        let guide = try String(contentsOf: root.appendingPathComponent("plugins/README.md"), encoding: .utf8)
        // The guide's ```swift blocks, their three-space indent removed.
        let blocks = guide.components(separatedBy: "```swift\n").dropFirst().map { block in
            block.components(separatedBy: "   ```")[0].split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.hasPrefix("   ") ? String($0.dropFirst(3)) : String($0) }.joined(separator: "\n")
        }
        for file in ["plugins/Swish/Package.swift", "plugins/Swish/Sources/Swish/Swish.swift"] {
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            XCTAssertTrue(blocks.contains(text), "plugins/README.md does not show \(file) as it is")
        }
        let r = try mlpsh("plugin load Swish; help swish; model; linear 4 3; swish beta=1.5; end; summary; gradcheck swish")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("x·σ(beta·x)") && r.out.contains("swish beta=1.5"), r.out)
        XCTAssertTrue(r.out.contains("swish beta=1.5"), r.out)
        XCTAssertFalse(r.out.contains("FAIL"), r.out)
        XCTAssertTrue(r.out.lowercased().contains("ok"), r.out)
    }

    // MARK: - Worked numbers, as PyTorch gives them

    /// The formulas torch.nn documents for each, in float64, at x = -2, -0.5, 1, 3.
    func testActivationsMatchPyTorchValues() throws {
        let registries = Registries()
        let loader = PluginLoader(registries: registries)
        try loader.load(path: Self.library("Activations"))
        let x: [Float] = [-2, -0.5, 1, 3]
        let expected: [(String, [String: String], [Float])] = [
            ("gelu", [:], [-0.04550026, -0.15426877, 0.84134475, 2.99595031]),
            ("gelu", ["approximate": "tanh"], [-0.04540231, -0.15428599, 0.84119199, 2.99636270]),
            ("silu", [:], [-0.23840584, -0.18877033, 0.73105858, 2.85772238]),
            ("elu", [:], [-0.86466472, -0.39346934, 1, 3]),
            ("softplus", [:], [0.12692801, 0.47407698, 1.31326169, 3.04858735]),
            ("mish", [:], [-0.25250148, -0.22074377, 0.86509839, 2.98653500]),
        ]
        for (name, options, values) in expected {
            let entry = try registries.layers.lookup(name)
            let layer = try entry.make(LayerArguments(positional: [], options: try Options(options, specs: entry.options, owner: name),
                                                      inputShape: [4], random: RandomGenerator(seed: 0)))
            let y = layer.forward(Tensor(rows: 1, cols: 4, values: x)).array
            for (a, b) in zip(y, values) { XCTAssertEqual(a, b, accuracy: 2e-6, "\(name) \(options)") }
        }
    }

    // MARK: - Refusals

    /// Compiles `source` into a plugin library against the engine the tests link.
    private func buildSwiftLibrary(_ name: String, _ source: String) throws -> String {
        let products = Fixtures.executable!.deletingLastPathComponent()
        let file = folder.appendingPathComponent("\(name).swift")
        try source.write(to: file, atomically: true, encoding: .utf8)
        let out = folder.appendingPathComponent("lib\(name).so").path
        let swiftc = try XCTUnwrap(["/usr/bin/swiftc", "/opt/swift/usr/bin/swiftc"].first { FileManager.default.isExecutableFile(atPath: $0) }
                                   ?? which("swiftc"), "swiftc not found")
        // The engine's module needs its C modules' maps and headers, as SwiftPM passes them.
        let engine = Fixtures.packageFolder.appendingPathComponent("Sources/Engine")
        var arguments = ["-emit-library", "-module-name", name, "-I", products.appendingPathComponent("Modules").path]
        for c in ["CBLAS", "CZlib", "CPNG", "CPrefetch", "CThreads"] { arguments += ["-I", engine.appendingPathComponent(c).path] }
        // CJPEG and CKernels are C targets: their headers, and the module maps SwiftPM generated.
        for c in ["CJPEG", "CKernels"] {
            arguments += ["-I", engine.appendingPathComponent("\(c)/include").path,
                          "-Xcc", "-fmodule-map-file=" + products.appendingPathComponent("\(c).build/module.modulemap").path]
        }
        let flags = try Fixtures.run(URL(fileURLWithPath: which("pkg-config") ?? "/usr/bin/pkg-config"),
                                     ["--cflags", "openblas", "libpng"], in: folder)
        for flag in flags.out.split(whereSeparator: \.isWhitespace) { arguments += ["-Xcc", String(flag)] }
        arguments += ["-L", products.path, "-lMLPEngine", file.path, "-o", out]
        let r = try Fixtures.run(URL(fileURLWithPath: swiftc), arguments, in: folder)
        XCTAssertEqual(r.status, 0, "swiftc: \(r.err)")
        return out
    }

    private func which(_ program: String) -> String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
            .map { "\($0)/\(program)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    func testBadLibrariesAreRefusedAndTheRegistriesStayAsTheyWere() throws {
        let notALibrary = folder.appendingPathComponent("libText.so").path
        try "not a library".write(toFile: notALibrary, atomically: true, encoding: .utf8)
        let noEntry = try buildSwiftLibrary("NoEntry", "public func hello() -> Int { 42 }\n")
        let oldVersion = try buildSwiftLibrary("Old", """
            import MLPEngine
            @_cdecl("mlpsh_plugin_init")
            public func entry(_ host: UnsafeMutableRawPointer) -> Int32 {
                PluginHost.connect(host, plugin: "Old", builtAgainst: "0.0.1") { r in
                    try r.layers.register(.init(name: "old_relu", summary: "never", make: { _ in fatalError() }))
                }
            }
            """)
        let clash = try buildSwiftLibrary("Clash", """
            import MLPEngine
            @_cdecl("mlpsh_plugin_init")
            public func entry(_ host: UnsafeMutableRawPointer) -> Int32 {
                PluginHost.connect(host, plugin: "Clash", builtAgainst: engineVersion) { r in
                    try r.losses.register(.init(name: "clash_loss", summary: "registered before the clash", make: { _ in MSE() }))
                    try r.layers.register(.init(name: "relu", summary: "a second relu", make: { _ in fatalError() }))
                }
            }
            """)
        let cases: [(String, String)] = [
            (notALibrary, "cannot be loaded as a plugin library"),
            (noEntry, "not an mlpsh plugin: it has no mlpsh_plugin_init entry point"),
            (oldVersion, "built against engine 0.0.1 but this mlpsh has \(engineVersion): rebuild it"),
            (clash, "layer 'relu' is already registered"),
            (folder.appendingPathComponent("libGone.so").path, "no such file"),
        ]
        // In one session, as at the prompt: each refusal is an error and the next command runs.
        let c = (out: Box(), err: Box())
        let runner = Runner(console: Console(write: { c.out.text += $0 }, writeError: { c.err.text += $0 }), variables: [:])
        let before = RegistryInventory(runner.session.registries)
        for (path, message) in cases {
            c.err.text = ""
            let status = runner.guarded { try runner.interpreter.run(source: "plugin load \(path)", file: "<stdin>") }
            XCTAssertEqual(status, 1, path)
            XCTAssertTrue(c.err.text.contains(message), "\(path): \(c.err.text)")
            XCTAssertEqual(RegistryInventory(runner.session.registries), before, "\(path) left something registered")
        }
        XCTAssertFalse(runner.session.registries.losses.contains("clash_loss"), "rolled back")
        XCTAssertEqual(runner.guarded { try runner.interpreter.run(source: "gradcheck relu", file: "<stdin>") }, 0, c.err.text)
        XCTAssertTrue(runner.session.plugins.loaded.isEmpty)

        // And through a real process: one error line, exit 1.
        let r = try mlpsh("plugin load \(oldVersion)")
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.hasPrefix("-c:1: error: plugin Old"), r.err)
    }

    /// A plugin that replaces `relu` and then fails is refused, and the built-in relu is back;
    /// a world-writable library is refused before it is loaded.
    func testARefusedPluginsReplacementIsUndoneAndWorldWritableLibrariesAreRefused() throws {
        let replacer = try buildSwiftLibrary("Replacer", """
            import MLPEngine
            struct Failure: Error {}
            @_cdecl("mlpsh_plugin_init")
            public func entry(_ host: UnsafeMutableRawPointer) -> Int32 {
                PluginHost.connect(host, plugin: "Replacer", builtAgainst: engineVersion) { r in
                    r.layers.unregister("relu")
                    try r.layers.register(.init(name: "relu", summary: "a replaced relu", make: { _ in fatalError() }))
                    throw Failure()
                }
            }
            """)
        let c = Box()
        let runner = Runner(console: Console(write: { _ in }, writeError: { c.text += $0 }), variables: [:])
        let before = RegistryInventory(runner.session.registries)
        XCTAssertEqual(runner.guarded { try runner.interpreter.run(source: "plugin load \(replacer)", file: "<stdin>") }, 1)
        XCTAssertTrue(c.text.contains("was refused"), c.text)
        XCTAssertEqual(RegistryInventory(runner.session.registries), before)
        XCTAssertEqual(try runner.session.registries.layers.lookup("relu").summary, "max(0, x)", "the built-in relu is back")
        XCTAssertEqual(runner.guarded { try runner.interpreter.run(source: "model; linear 4 3; relu; end", file: "<stdin>") }, 0, c.text)

        // World-writable: refused, and nothing of it runs.
        let open = try buildSwiftLibrary("Open", """
            import MLPEngine
            @_cdecl("mlpsh_plugin_init")
            public func entry(_ host: UnsafeMutableRawPointer) -> Int32 {
                PluginHost.connect(host, plugin: "Open", builtAgainst: engineVersion) { r in
                    try r.layers.register(.init(name: "open_layer", summary: "from a world-writable file", make: { _ in fatalError() }))
                }
            }
            """)
        XCTAssertEqual(chmod(open, 0o777), 0)
        c.text = ""
        XCTAssertEqual(runner.guarded { try runner.interpreter.run(source: "plugin load \(open)", file: "<stdin>") }, 1)
        XCTAssertTrue(c.text.contains("is world-writable"), c.text)
        XCTAssertFalse(runner.session.registries.layers.contains("open_layer"))
    }

    private final class Box { var text = "" }
}
