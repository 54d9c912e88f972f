import Foundation
import XCTest
@testable import MLPShell
@testable import MLPEngine

/// What mlpsh saves, it loads: every registered layer, the plugins' too, built with values
/// other than the defaults for every option it can take, in more than one order, saved and read
/// back both into a fresh session (rebuilt from the file) and into the same model, gives the
/// same model and the same weights.
final class RoundTripTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mlpsh-RoundTrip-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// The registries, with the plugins scripts/build-plugins built (skipped when absent).
    private func registries() throws -> (Registries, [String]) {
        let registries = Registries()
        try registries.registerBuiltins()
        let loader = PluginLoader(registries: registries)
        var loaded: [String] = []
        for name in ["Activations", "Tabular"] {
            let path = Fixtures.packageFolder.appendingPathComponent("plugins/\(name)/.build/release/lib\(name).so").path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            try loader.load(path: path)
            loaded.append(name)
        }
        return (registries, loaded)
    }

    /// Values to try instead of an option's default, in order.
    private func alternatives(_ value: String) -> [String] {
        switch value {
        case "true": return ["false"]
        case "false": return ["true"]
        default: break
        }
        if let i = Int(value) { return [String(i + 1), String(i + 2), String(max(i - 1, 0))] }
        if let d = Double(value) { return d == 0 ? ["0.25", "1"] : [String(d / 2), String(d * 2), String(-d)] }
        // A default that is a word ("K", "none"): small numbers, then words options take.
        return ["1", "2", "3", "tanh", "mean", "sum", "same"].filter { $0 != value }
    }

    private func build(_ spec: Spec, _ shape: [Int], _ registries: Registries) throws -> Sequential {
        try Sequential.build([spec], inputShape: shape, registries: registries, random: RandomGenerator(seed: 3))
    }

    func testEveryLayerWithEveryOptionChangedLoadsBack() throws {
        let (registries, plugins) = try registries()
        if plugins.count < 2 { print("RoundTripTests: plugins not built (scripts/build-plugins); checking the built-in layers only") }
        var checked: [String] = []
        for name in registries.layers.names {
            let entry = try registries.layers.lookup(name)
            // The example read as a model block would read it (a block's example is its lines),
            // without its options; its first number read as channels or features, on an input it fits.
            let lines = try entry.help.example.split(separator: "\n").map { line in
                (words: try Lexer.words(in: String(line), variables: { _ in nil }), location: SourceLocation?.none)
            }
            var example = try XCTUnwrap(try ModelText.specs(lines, registries: registries).specs.first, name)
            example.options = []
            let first = example.flattened.first { !$0.args.isEmpty }?.args.first.flatMap(Int.init)
            let shapes: [[Int]] = [first.map { [$0, 12, 12] }, first.map { [$0] }, [4, 12, 12], [16]].compactMap { $0 }
            var base: (spec: Spec, shape: [Int])?
            for shape in shapes where base == nil {
                if (try? build(example, shape, registries)) != nil { base = (example, shape) }
            }
            let found = try XCTUnwrap(base, "\(name): no input shape fits its example '\(entry.help.example)'")
            // Each option changed from its default, where the layer accepts another value.
            var changed: [(key: String, value: String)] = []
            for option in entry.help.options {
                for value in alternatives(option.defaultValue) {
                    var spec = found.spec
                    spec.options = changed + [(option.key, value)]
                    if (try? build(spec, found.shape, registries)) != nil {
                        changed.append((option.key, value))
                        break
                    }
                }
            }
            for options in [changed, changed.reversed()] {
                var spec = found.spec
                spec.options = options
                try checkRoundTrip(spec, shape: found.shape, registries: registries)
            }
            checked.append("\(name) \(changed.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
        }
        XCTAssertTrue(checked.contains { $0.hasPrefix("conv2d") && $0.contains("stride=") && $0.contains("padding=") }, "\(checked)")
        XCTAssertTrue(checked.contains { $0.hasPrefix("maxpool2d") && $0.contains("stride=") && $0.contains("padding=") }, "\(checked)")
        print("RoundTripTests: \(checked.count) layers: \(checked.joined(separator: "; "))")
    }

    /// Every option of every optimizer, loss and schedule, at a value that Float would round
    /// (0.99999999999 is 1 in Float), then at its other values: saved with the model and loaded
    /// back, each reads as it was written, and the file loads without a complaint.
    func testEveryOptimizerLossAndScheduleSettingLoadsBackExactly() throws {
        let (registries, _) = try registries()
        let model = try build(Spec("linear", args: ["4", "3"]), [4], registries)
        let path = folder.appendingPathComponent("settings.safetensors").path
        var checked = 0
        func roundTrip(optimizer: Optimizer? = nil, loss: Loss? = nil, schedule: Schedule = .none, what: String) throws {
            let file = try Checkpoint.file(model: model, history: [], loss: loss, optimizer: optimizer ?? SGD(lr: 0.1), schedule: schedule,
                                           random: RandomGenerator(seed: 1), training: false, version: "test")
            try file.write(to: path)
            let back = try Checkpoint.load(path: path, into: nil, dataShape: nil, registries: registries, random: RandomGenerator(seed: 1))
            if let optimizer { XCTAssertEqual(back.optimizer?.definition, optimizer.definition, what) }
            if let loss { XCTAssertEqual(back.loss?.definition, loss.definition, what) }
            XCTAssertEqual(back.schedule?.definition ?? "none", schedule.definition, what)
            checked += 1
        }
        try eachSetting(registries.optimizers, "optim", ["0.99999999999", "1.0000000001e-08"]) { try roundTrip(optimizer: $0, what: $1) }
        try eachSetting(registries.losses, "loss", ["0.99999999999", "0.30000000000000004"]) { try roundTrip(loss: $0, what: $1) }
        try eachSetting(registries.schedules, "schedule", ["0.99999999999", "7"]) { try roundTrip(schedule: $0, what: $1) }
        XCTAssertGreaterThan(checked, 30)
    }

    /// Files written before 0.6 hold the loss, optimizer and schedule as text; those written
    /// since, as JSON specs. Both load to the same components.
    func testComponentsSavedAsTextOrAsSpecsLoadAlike() throws {
        let (registries, _) = try registries()
        let model = try build(Spec("linear", args: ["4", "3"]), [4], registries)
        let w = model.namedParameters.map { SafeTensors.Entry(name: $0.0, shape: $0.1.shape, floats: $0.1.value.array) }
        let path = folder.appendingPathComponent("legacy.safetensors").path
        let text = ["mlpsh.loss": "cross_entropy label_smoothing=0.2", "mlpsh.optimizer": "sgd lr=0.3 momentum=0.5",
                    "mlpsh.schedule": "cosine t_max=7"]
        let json = ["mlpsh.loss": #"{"args":[],"name":"cross_entropy","options":{"label_smoothing":"0.2"}}"#,
                    "mlpsh.optimizer": #"{"args":[],"name":"sgd","options":{"lr":"0.3","momentum":"0.5"}}"#,
                    "mlpsh.schedule": #"{"name":"cosine","options":{"t_max":"7"}}"#]
        var loaded: [[String]] = []
        for meta in [text, json] {
            try SafeTensors(entries: w, metadata: meta.merging(["mlpsh.model": "linear 4 3"]) { a, _ in a }).write(to: path)
            let c = try Checkpoint.load(path: path, into: nil, dataShape: nil, registries: registries, random: RandomGenerator(seed: 1))
            loaded.append([c.loss?.definition ?? "", c.optimizer?.definition ?? "", c.schedule?.definition ?? ""])
        }
        XCTAssertEqual(loaded[0], ["cross_entropy label_smoothing=0.2", "sgd lr=0.3 momentum=0.5", "cosine t_max=7 eta_min=0.0"])
        XCTAssertEqual(loaded[0], loaded[1])
        // A spec whose word hides a statement is refused, as text is.
        try SafeTensors(entries: w, metadata: ["mlpsh.model": "linear 4 3",
                                               "mlpsh.loss": #"{"name":"cross_entropy","options":{"weight":"1\nsave x"}}"#]).write(to: path)
        XCTAssertThrowsError(try Checkpoint.load(path: path, into: nil, dataShape: nil, registries: registries, random: RandomGenerator(seed: 1)))
    }

    /// Each option of each entry of `registry`, at each of `values` and then at its other
    /// values, wherever the entry accepts it: the component made, and the words that made it.
    private func eachSetting<Component>(_ registry: Registry<(Arguments) throws -> Component>, _ command: String, _ values: [String],
                                        _ body: (Component, String) throws -> Void) throws {
        for name in registry.names {
            let entry = try registry.lookup(name)
            for option in entry.help.options {
                for value in values + alternatives(option.defaultValue) {
                    guard let made = try? registry.make(Spec(name, options: [(option.key, value)])) else { continue }
                    try body(made, "\(command) \(name) \(option.key)=\(value)")
                }
            }
        }
    }

    private func checkRoundTrip(_ spec: Spec, shape: [Int], registries: Registries, file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try build(spec, shape, registries)
        // What a model says it is builds the same model: example → build → spec → build.
        let rebuilt = try Sequential.build(model.specs, inputShape: shape, registries: registries, random: RandomGenerator(seed: 3))
        XCTAssertEqual(rebuilt.specs, model.specs, "\(spec.text) on \(shape)", file: file, line: line)
        XCTAssertEqual(rebuilt.namedParameters.map(\.0), model.namedParameters.map(\.0), file: file, line: line)
        // Weights that are not the initial ones, and buffers moved off theirs.
        for (i, p) in model.parameters.enumerated() {
            for j in 0..<p.count { p.value.data[j] = Float((i * 31 + j) % 17) * 0.125 - 1 }
        }
        let path = folder.appendingPathComponent("\(spec.name).safetensors").path
        let random = RandomGenerator(seed: 3)
        let saved = try Checkpoint.file(model: model, history: [], loss: nil, optimizer: nil, schedule: .none,
                                        random: random, training: false, version: "test")
        try saved.write(to: path)
        let what = "\(spec.text) on \(shape)"
        // Rebuilt from the file alone.
        let fresh = try Checkpoint.load(path: path, into: nil, dataShape: nil, registries: registries, random: RandomGenerator(seed: 9))
        fresh.commit()
        XCTAssertEqual(fresh.model.specs, model.specs, what, file: file, line: line)
        XCTAssertEqual(fresh.model.definition, model.definition, what, file: file, line: line)
        XCTAssertEqual(Array(fresh.model.parameterStorage.buffer), Array(model.parameterStorage.buffer), what, file: file, line: line)
        // Into the same model, its weights scrambled first.
        let saved2 = Array(model.parameterStorage.buffer)
        for p in model.parameters { p.value.fill(0.5) }
        let into = try Checkpoint.load(path: path, into: model, dataShape: nil, registries: registries, random: RandomGenerator(seed: 9))
        into.commit()
        XCTAssertEqual(Array(model.parameterStorage.buffer), saved2, what, file: file, line: line)
    }
}
