import Foundation
import XCTest
@testable import MLPEngine
@testable import MLPShell

/// A checkpoint is data: whatever its metadata holds, `load` never runs a command. Each hostile
/// file below tries to close the model block and run `save`, `include` or `plugin load` (with
/// tabs, carriage returns, `;`, newlines, or values inside the JSON description). Every one
/// must be refused with an error naming the file, write nothing, load nothing, run nothing,
/// and leave the session byte for byte as it was (saved before and after, compared).
final class CheckpointSecurityTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mlpsh-security-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    private final class Captured { var out = "", err = "" }

    private func runner() -> (Runner, Captured) {
        let c = Captured()
        return (Runner(console: Console(write: { c.out += $0 }, writeError: { c.err += $0 })), c)
    }

    @discardableResult
    private func run(_ r: Runner, _ text: String) -> Int32 {
        r.guarded { try r.interpreter.run(source: text, file: "test.mlp") }
    }

    /// What a successful injection would leave behind.
    private var pwned: String { path("pwned.safetensors") }
    private var included: String { path("evil.mlp") }
    private var library: String { path("libEvil.so") }

    /// The hostile metadata, each with the tensors of a `linear 4 3` layer.
    private var hostile: [(String, [String: String])] {
        let save = "save \(pwned)", include = "include \(included)", plugin = "plugin load \(library)"
        let layersJSON = { (args: String) in #"[{"layer":"linear","args":\#(args),"options":{}}]"# }
        return [
            ("tab-indented end", ["mlpsh.model": "linear 4 3\n\tend\n\(save)\nmodel\nlinear 4 3"]),
            ("tab before end and after", ["mlpsh.model": "linear 4 3\n\t end\t\n\(include)\nmodel\nlinear 4 3"]),
            ("carriage return", ["mlpsh.model": "linear 4 3\r\nend\r\n\(plugin)\r\nmodel\r\nlinear 4 3"]),
            ("semicolons", ["mlpsh.model": "linear 4 3; end; \(save); model; linear 4 3"]),
            ("newline", ["mlpsh.model": "linear 4 3\nend\n\(include)\nmodel\nlinear 4 3"]),
            ("comment and quote", ["mlpsh.model": "linear 4 3 # \"\nend\n\(save)"]),
            ("variable", ["mlpsh.model": "linear 4 ${x}3"]),
            ("command as a layer", ["mlpsh.model": "plugin load \(library)"]),
            ("json newline in a word", ["mlpsh.layers": layersJSON(#"["4","3\nend\n\#(save)"]"#)]),
            ("json tab in a word", ["mlpsh.layers": layersJSON(#"["4","3\tend"]"#)]),
            ("json semicolon", ["mlpsh.layers": layersJSON(#"["4","3;\#(include)"]"#)]),
            ("json command name", ["mlpsh.layers": #"[{"layer":"save","args":["\#(pwned)"]}]"#]),
            ("json option value", ["mlpsh.layers": #"[{"layer":"linear","args":["4","3"],"options":{"x":"1\n\#(plugin)"}}]"#]),
            ("loss", ["mlpsh.model": "linear 4 3", "mlpsh.loss": "cross_entropy; \(save)"]),
            ("loss tab", ["mlpsh.model": "linear 4 3", "mlpsh.loss": "cross_entropy\n\t\(include)"]),
            ("optimizer", ["mlpsh.model": "linear 4 3", "mlpsh.optimizer": "sgd lr=0.1\n\(plugin)"]),
            ("optimizer as a command", ["mlpsh.model": "linear 4 3", "mlpsh.optimizer": "save \(pwned)"]),
            ("schedule", ["mlpsh.model": "linear 4 3", "mlpsh.schedule": "none; \(save)"]),
        ]
    }

    private func writeHostileFiles() throws -> [(String, String)] {
        // The payloads' targets: an included script that would save and print, a plugin path.
        try "echo INJECTED\nsave \(pwned)\n".write(toFile: included, atomically: true, encoding: .utf8)
        let w = SafeTensors.Entry(name: "0.weight", shape: [3, 4], floats: [Float](repeating: 0.1, count: 12))
        let b = SafeTensors.Entry(name: "0.bias", shape: [3], floats: [0, 0, 0])
        return try hostile.enumerated().map { i, item in
            let file = path("hostile-\(i).safetensors")
            try SafeTensors(entries: [w, b], metadata: item.1).write(to: file)
            return (item.0, file)
        }
    }

    private func assertNothingRan(_ r: Runner, _ c: Captured, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(FileManager.default.fileExists(atPath: pwned), "\(label): the file's metadata saved a file", file: file, line: line)
        XCTAssertFalse(c.out.contains("INJECTED"), "\(label): the file's metadata ran a command: \(c.out)", file: file, line: line)
        XCTAssertTrue(r.session.plugins.loaded.isEmpty, "\(label): a plugin was loaded", file: file, line: line)
    }

    /// The model's text (mlpsh.model) is for people: beside the JSON it is neither read nor
    /// compared, so what it says never runs and never decides anything.
    func testTheModelsTextBesideItsJSONIsNeverRead() throws {
        let w = SafeTensors.Entry(name: "0.weight", shape: [3, 4], floats: [Float](repeating: 0.1, count: 12))
        let b = SafeTensors.Entry(name: "0.bias", shape: [3], floats: [0, 0, 0])
        let file = path("text-disagrees.safetensors")
        let json = #"[{"layer":"linear","args":["4","3"],"options":{}}]"#
        try SafeTensors(entries: [w, b], metadata: ["mlpsh.layers": json, "mlpsh.model": "linear 4 3\nend\nsave \(pwned)"]).write(to: file)
        let (r, c) = runner()
        XCTAssertEqual(run(r, "load \(file)"), 0, c.err)
        assertNothingRan(r, c, "text beside JSON")
        XCTAssertEqual(r.session.model?.definition, "linear 4 3")
    }

    /// Into an empty session: refused, and the session still has no model, loss or optimizer.
    func testHostileMetadataIsRefusedInAnEmptySession() throws {
        for (label, file) in try writeHostileFiles() {
            let (r, c) = runner()
            XCTAssertEqual(run(r, "load \(file)"), 1, "\(label): was accepted")
            XCTAssertTrue(c.err.hasPrefix("test.mlp:1: error: "), "\(label): \(c.err)")
            XCTAssertTrue(c.err.contains(file), "\(label): the error does not name the file: \(c.err)")
            XCTAssertEqual(c.err.filter { $0 == "\n" }.count, 1, "\(label): one error line: \(c.err)")
            assertNothingRan(r, c, label)
            XCTAssertNil(r.session.model, label)
            XCTAssertNil(r.session.loss, label)
            XCTAssertNil(r.session.optimizer, label)
        }
    }

    /// Into a trained session: refused, and a save after is byte-identical to a save before
    /// (weights, history, optimizer state, random state).
    func testHostileMetadataLeavesATrainedSessionByteIdentical() throws {
        let files = try writeHostileFiles()
        let (r, c) = runner()
        XCTAssertEqual(run(r, """
            seed 3
            data train synthetic classes=3 features=4 n=60
            model
              linear 4 3
            end
            loss cross_entropy
            optim sgd lr=0.1 momentum=0.9
            train epochs=2 batch=16
            save \(path("before.safetensors")) optimizer=true
            """), 0, c.err)
        for (i, (label, file)) in files.enumerated() {
            XCTAssertEqual(run(r, "load \(file)"), 1, "\(label): was accepted")
            assertNothingRan(r, c, label)
            let after = path("after-\(i).safetensors")
            XCTAssertEqual(run(r, "save \(after) optimizer=true"), 0, c.err)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: after)), try Data(contentsOf: URL(fileURLWithPath: path("before.safetensors"))),
                           "\(label): the session changed")
        }
    }

    /// A file whose tensors fit but whose optimizer state does not: the model and the
    /// optimizer stay byte-identical, and so does the random state.
    func testAFailedLoadChangesNothing() throws {
        let (r, c) = runner()
        XCTAssertEqual(run(r, """
            seed 5
            data train synthetic classes=3 features=4 n=60
            model
              linear 4 3
              dropout p=0.2
            end
            loss cross_entropy
            optim adam lr=0.01
            train epochs=1 batch=16
            save \(path("good.safetensors")) optimizer=true
            save \(path("before.safetensors")) optimizer=true
            """), 0, c.err)
        // The good file with one optimizer tensor cut short.
        var good = try SafeTensors(path: path("good.safetensors"))
        let index = try XCTUnwrap(good.entries.firstIndex { $0.name.hasPrefix("mlpsh.optimizer.") })
        let e = good.entries[index]
        good.entries[index] = SafeTensors.Entry(name: e.name, shape: [1], floats: [0])
        try good.write(to: path("bad-state.safetensors"))
        // And with a model description that no longer builds, for an empty session.
        var unknown = try SafeTensors(path: path("good.safetensors"))
        unknown.metadata["mlpsh.layers"] = #"[{"layer":"linear","args":["4","3"],"options":{}},{"layer":"no_such_layer","args":[],"options":{}}]"#
        unknown.metadata["mlpsh.model"] = "linear 4 3\nno_such_layer"
        try unknown.write(to: path("unknown-layer.safetensors"))

        for bad in ["bad-state.safetensors", "unknown-layer.safetensors"] {
            XCTAssertEqual(run(r, "load \(path(bad))"), 1, bad)
            XCTAssertTrue(c.err.contains(path(bad)), c.err)
            XCTAssertEqual(run(r, "save \(path("after.safetensors")) optimizer=true"), 0, c.err)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("after.safetensors"))),
                           try Data(contentsOf: URL(fileURLWithPath: path("before.safetensors"))), "\(bad) changed the session")
        }
        // Into an empty session, the unknown layer is named and the session stays empty; its
        // random state is untouched (building the layers before it drew from it).
        let (empty, e2) = runner()
        XCTAssertEqual(run(empty, "seed 9"), 0)
        let random = empty.session.random.source
        XCTAssertEqual(run(empty, "load \(path("unknown-layer.safetensors"))"), 1)
        XCTAssertTrue(e2.err.contains("no_such_layer"), e2.err)
        XCTAssertNil(empty.session.model)
        XCTAssertEqual(empty.session.random.source, random)
        // The good file still loads, into either session.
        XCTAssertEqual(run(r, "load \(path("good.safetensors"))"), 0, c.err)
        XCTAssertEqual(run(empty, "load \(path("good.safetensors"))"), 0, e2.err)
        XCTAssertEqual(empty.session.model?.definition, "linear 4 3\ndropout p=0.2")
    }

    /// Files written before `mlpsh.layers` existed (the model as text only) still load.
    func testAFileWithOnlyTheTextDescriptionLoads() throws {
        let (r, c) = runner()
        XCTAssertEqual(run(r, "seed 1\nmodel\n  linear 4 8\n  leaky_relu slope=0.2\n  linear 3\nend\nsave \(path("new.safetensors"))"), 0, c.err)
        var old = try SafeTensors(path: path("new.safetensors"))
        old.metadata["mlpsh.layers"] = nil
        XCTAssertEqual(old.metadata["mlpsh.model"], "linear 4 8\nleaky_relu slope=0.2\nlinear 8 3")
        try old.write(to: path("old.safetensors"))
        let (fresh, f) = runner()
        XCTAssertEqual(run(fresh, "load \(path("old.safetensors"))"), 0, f.err)
        XCTAssertEqual(fresh.session.model?.definition, r.session.model?.definition)
        XCTAssertEqual(fresh.session.model.map { Array($0.parameterStorage.buffer) }, r.session.model.map { Array($0.parameterStorage.buffer) })
    }
}
