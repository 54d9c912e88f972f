import Foundation
import XCTest
@testable import MLPShell
import MLPEngine

/// `save` and `load`: the safetensors file's names, shapes and metadata; loading into a fresh
/// session and into a defined model; resuming training bit for bit (in process and in a new
/// process); atomic writes that never harm the file already there; files written elsewhere.
final class CheckpointTests: XCTestCase {
    private final class Captured {
        var out = ""
        var err = ""
        var lines: [String] { out.split(separator: "\n").map(String.init) }
        var epochLines: [String] { lines.filter { $0.hasPrefix("epoch:") } }
    }

    private func makeRunner(variables: [String: String] = [:]) -> (Runner, Captured) {
        let captured = Captured()
        let console = Console(write: { captured.out += $0 }, writeError: { captured.err += $0 }, showsProgress: false)
        return (Runner(console: console, variables: variables), captured)
    }

    /// Runs `text` in `runner` as the script "test.mlp"; returns the exit status.
    @discardableResult
    private func run(_ runner: Runner, _ text: String) -> Int32 {
        runner.guarded { try runner.interpreter.run(source: text, file: "test.mlp") }
    }

    /// Runs `text` in a new session with the standard variables ($mnist, $dir).
    @discardableResult
    private func session(_ text: String, file: StaticString = #filePath, line: UInt = #line,
                         expectSuccess: Bool = true) -> (Runner, Captured) {
        let (runner, c) = makeRunner(variables: ["mnist": Self.mnistFolder, "dir": folder.path])
        let status = run(runner, text)
        if expectSuccess { XCTAssertEqual(status, 0, "stderr: \(c.err)", file: file, line: line) }
        return (runner, c)
    }

    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mlpsh-checkpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Fixtures.requireMNIST()  // fails, never only skips: the data is part of the suite
    }

    override func tearDownWithError() throws {
        AtomicFile.failureInjection = nil
        try? FileManager.default.removeItem(at: folder)
    }

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var mnistFolder: String { packageRoot.appendingPathComponent("data/mnist").path }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    private func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// Each parameter's name, shape and bit patterns.
    private func snapshot(_ runner: Runner) throws -> [(String, [Int], [UInt32])] {
        try XCTUnwrap(runner.session.model, "no model").namedParameters.map { name, p in
            (name, [p.value.rows, p.value.cols], p.value.array.map(\.bitPattern))
        }
    }

    private func assertSameParameters(_ a: Runner, _ b: Runner, file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try snapshot(a), y = try snapshot(b)
        XCTAssertEqual(x.map(\.0), y.map(\.0), "parameter names", file: file, line: line)
        XCTAssertEqual(x.map(\.1), y.map(\.1), "parameter shapes", file: file, line: line)
        for (p, q) in zip(x, y) {
            XCTAssertTrue(p.2 == q.2, "parameter \(p.0) differs in \(zip(p.2, q.2).filter { $0 != $1 }.count) of \(p.2.count) values",
                          file: file, line: line)
        }
    }

    /// The temporary files AtomicFile leaves when it fails to clean up: ".NAME.tmp-XXXXXX".
    private func leftoverTemporaryFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix(".") && $0.contains(".tmp-") }
    }

    private let mnistModel = Fixtures.mnistModel

    /// Small MNIST slices: a debug build trains an epoch of these in well under a second.
    private let mnistData = """
        data train mnist split=train limit=640 path=$mnist
        data test  mnist split=test  limit=320 path=$mnist
        """

    private let stateDictNames = ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]

    // MARK: - save, then load into a fresh session

    func testSaveThenLoadIntoAFreshSessionRebuildsTheModelBitForBit() throws {
        let file = path("m.safetensors")
        let (trained, c) = session("""
            seed 7
            \(mnistData)
            \(mnistModel)
            loss cross_entropy
            optim sgd lr=0.05
            train epochs=2 batch=32 shuffle=true
            save \(file)
            """)
        XCTAssertEqual(c.epochLines.count, 2, c.out)

        // The file itself: exactly the state_dict's tensors, weights [out, in], biases [out], F32.
        let st = try SafeTensors(path: file)
        XCTAssertEqual(st.entries.map(\.name).sorted(), stateDictNames.sorted())
        let shapes: [String: [Int]] = ["0.weight": [120, 784], "0.bias": [120], "2.weight": [84, 120], "2.bias": [84],
                                       "4.weight": [10, 84], "4.bias": [10]]
        for (name, shape) in shapes {
            let e = try XCTUnwrap(st.entry(name), name)
            XCTAssertEqual(e.shape, shape, name)
            XCTAssertEqual(e.dtype, "F32", name)
            XCTAssertEqual(e.bytes.count, shape.reduce(1, *) * 4, name)
        }
        // The tensors hold the model's values, row-major [out, in].
        let model = try XCTUnwrap(trained.session.model)
        for (name, p) in model.namedParameters {
            XCTAssertEqual(try XCTUnwrap(st.entry(name)).floats.map(\.bitPattern), p.value.array.map(\.bitPattern), name)
        }
        let linear0 = try XCTUnwrap(model.layers[0] as? Linear)
        XCTAssertEqual([linear0.outputWidth, linear0.inputWidth], [120, 784])

        // The metadata.
        let meta = st.metadata
        XCTAssertEqual(meta["mlpsh.model"], "linear 784 120\nrelu\nlinear 120 84\nrelu\nlinear 84 10")
        XCTAssertEqual(meta["mlpsh.seed"], "7")
        XCTAssertEqual(meta["mlpsh.version"], mlpshVersion)
        XCTAssertFalse(mlpshVersion.isEmpty)
        let history = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(meta["mlpsh.history"]).utf8)) as? [[String: Any]])
        XCTAssertEqual(history.count, 2, "one entry per epoch")
        XCTAssertEqual(history.map { ($0["epoch"] as? NSNumber)?.intValue }, [0, 1])
        for (entry, line) in zip(history, c.epochLines) {
            let acc = try XCTUnwrap((entry["train_acc"] as? NSNumber)?.doubleValue)
            XCTAssertTrue(line.contains(String(format: "train_acc:%.1f%%", acc * 100)), "\(entry) vs \(line)")
            let testAcc = try XCTUnwrap((entry["test_acc"] as? NSNumber)?.doubleValue)
            XCTAssertTrue(line.contains(String(format: "test_acc:%.1f%%", testAcc * 100)), "\(entry) vs \(line)")
        }
        // Without optimizer=true there is no optimizer state, only its settings (so that a
        // loaded model can be tested and trained on as it was).
        XCTAssertNil(meta["mlpsh.optimizer_steps"])
        XCTAssertNotNil(meta["mlpsh.optimizer"])
        XCTAssertFalse(st.entries.contains { $0.name.hasPrefix("mlpsh.") })

        // A fresh session, no model defined: load rebuilds it.
        let (fresh, f) = session("load \(file)\nsummary\nhistory")
        XCTAssertEqual(f.err, "")
        XCTAssertEqual(try XCTUnwrap(fresh.session.model).definition, model.definition)
        try assertSameParameters(trained, fresh)
        XCTAssertTrue(f.out.contains("Total params: 105,214"), f.out)
        XCTAssertEqual(fresh.session.history.count, 2, "the history comes back")
        XCTAssertEqual(fresh.session.history.map(\.trainAccuracy), trained.session.history.map(\.trainAccuracy))
        // The rebuilt model evaluates as the trained one did.
        // (`optim sgd` only because `test` wants one; see testALoadedModelIsTestedWithoutChoosingAnOptimizer.)
        let loadedTest = session("\(mnistData)\nload \(file)\nloss cross_entropy\noptim sgd\ntest").1.lines.last
        XCTAssertEqual(run(trained, "test"), 0, c.err)
        XCTAssertNotNil(loadedTest)
        XCTAssertEqual(loadedTest, c.lines.last)
        XCTAssertTrue(c.lines.last?.hasPrefix("test_loss:") ?? false, c.out)
        // Saving what was loaded gives the same tensors and model again.
        let again = path("again.safetensors")
        XCTAssertEqual(run(fresh, "save \(again)"), 0, f.err)
        let st2 = try SafeTensors(path: again)
        for name in stateDictNames {
            XCTAssertEqual(try XCTUnwrap(st2.entry(name)).bytes, try XCTUnwrap(st.entry(name)).bytes, name)
        }
        XCTAssertEqual(st2.metadata["mlpsh.model"], meta["mlpsh.model"])
        // The history's numbers agree to within a unit in the last place here (exactly: see
        // testHistoryRoundTripsExactly).
        XCTAssertEqual(fresh.session.history.count, trained.session.history.count)
        for (a, b) in zip(fresh.session.history, trained.session.history) {
            XCTAssertEqual(a.epoch, b.epoch)
            XCTAssertEqual(a.trainLoss, b.trainLoss, accuracy: abs(b.trainLoss) * 1e-14)
            XCTAssertEqual(a.testLoss ?? .nan, b.testLoss ?? 0, accuracy: abs(b.testLoss ?? 0) * 1e-14)
            XCTAssertEqual(a.testAccuracy ?? .nan, b.testAccuracy ?? 0, accuracy: 1e-14)
            XCTAssertEqual(a.learningRate, b.learningRate)
        }
    }

    /// The history in the file is the session's history: loading it gives back the very same
    /// numbers. (Linux Foundation's JSONSerialization reads about one decimal in five a unit in
    /// the last place off, e.g. "2.2853507161140443" as 2.2853507161140447, so a reader that
    /// relies on it drifts by one ulp a save/load cycle.)
    func testHistoryRoundTripsExactly() throws {
        let file = path("h.safetensors")
        let (trained, _) = session("""
            seed 7
            \(mnistData)
            \(mnistModel)
            loss cross_entropy
            optim sgd lr=0.05
            train epochs=3 batch=32 shuffle=true
            save \(file)
            """)
        let (fresh, _) = session("load \(file)")
        XCTAssertEqual(fresh.session.history.count, 3)
        for (a, b) in zip(fresh.session.history, trained.session.history) {
            XCTAssertEqual(a.trainLoss.bitPattern, b.trainLoss.bitPattern, "train_loss of epoch \(b.epoch): \(a.trainLoss) != \(b.trainLoss)")
            XCTAssertEqual(a.trainAccuracy.bitPattern, b.trainAccuracy.bitPattern, "train_acc of epoch \(b.epoch)")
            XCTAssertEqual(a.testLoss?.bitPattern, b.testLoss?.bitPattern, "test_loss of epoch \(b.epoch)")
            XCTAssertEqual(a.testAccuracy?.bitPattern, b.testAccuracy?.bitPattern, "test_acc of epoch \(b.epoch)")
            XCTAssertEqual(a.seconds.bitPattern, b.seconds.bitPattern, "seconds of epoch \(b.epoch)")
        }
    }

    // MARK: - load into a defined model

    func testLoadFillsAMatchingDefinedModel() throws {
        let file = path("m.safetensors")
        let (trained, _) = session("seed 1\n\(mnistModel)\nsave \(file)")
        // Another seed, so the defined model starts with other weights.
        let (target, c) = session("seed 2\n\(mnistModel)")
        XCTAssertNotEqual(try snapshot(target).map(\.2), try snapshot(trained).map(\.2))
        let before = try XCTUnwrap(target.session.model)
        XCTAssertEqual(run(target, "load \(file)"), 0, c.err)
        XCTAssertTrue(target.session.model === before, "the defined model is filled, not replaced")
        try assertSameParameters(trained, target)
    }

    func testLoadIntoAMismatchingModelNamesTheTensorAndBothShapes() throws {
        let file = path("m.safetensors")
        session("seed 1\n\(mnistModel)\nsave \(file)")
        // The first layer narrower: 0.weight is the first tensor that disagrees.
        let (narrow, c) = session("seed 3\nmodel\n  linear 784 100\n  relu\n  linear 100 84\n  relu\n  linear 84 10\nend")
        let before = try snapshot(narrow)
        XCTAssertEqual(run(narrow, "load \(file)"), 1)
        XCTAssertTrue(c.err.hasPrefix("test.mlp:1: error: "), c.err)
        for w in [file, "'0.weight'", "[120, 784]", "[100, 784]"] {
            XCTAssertTrue(c.err.contains(w), "the error lacks \(w): \(c.err)")
        }
        XCTAssertEqual(c.err.filter { $0 == "\n" }.count, 1, c.err)
        XCTAssertTrue(try snapshot(narrow).map(\.2) == before.map(\.2), "a refused load changes nothing")

        // The middle layer differs: the first disagreeing tensor is 2.weight.
        let (middle, m) = session("model\n  linear 784 120\n  relu\n  linear 120 80\n  relu\n  linear 80 10\nend")
        XCTAssertEqual(run(middle, "load \(file)"), 1)
        for w in ["'2.weight'", "[84, 120]", "[80, 120]"] {
            XCTAssertTrue(m.err.contains(w), "the error lacks \(w): \(m.err)")
        }
        // More outputs: 4.weight is the first to disagree.
        let (wide, o) = session("model\n  linear 784 120\n  relu\n  linear 120 84\n  relu\n  linear 84 12\nend")
        XCTAssertEqual(run(wide, "load \(file)"), 1)
        XCTAssertTrue(o.err.contains("'4.weight'") && o.err.contains("[10, 84]") && o.err.contains("[12, 84]"), o.err)
        // A model with a layer more than the file: the missing tensor is named.
        let (deeper, d) = session("model\n  linear 784 120\n  relu\n  linear 120 84\n  relu\n  linear 84 10\n  relu\n  linear 10 10\nend")
        XCTAssertEqual(run(deeper, "load \(file)"), 1)
        XCTAssertTrue(d.err.contains("'6.weight'"), d.err)
        // A model with a layer fewer: the file's extra tensor is named.
        let (shallow, s) = session("model\n  linear 784 120\n  relu\n  linear 120 84\nend")
        XCTAssertEqual(run(shallow, "load \(file)"), 1)
        XCTAssertTrue(s.err.contains("'4.weight'") || s.err.contains("'4.bias'"), s.err)
        XCTAssertTrue(s.err.contains("matches nothing"), s.err)
    }

    func testAFileLackingATensorNamesIt() throws {
        let (source, _) = session("seed 1\n\(mnistModel)")
        let params = try XCTUnwrap(source.session.model).namedParameters
        let file = path("partial.safetensors")
        let entries = params.filter { $0.0 != "2.bias" }.map { name, p in
            SafeTensors.Entry(name: name, shape: p.name == "bias" ? [p.count] : [p.value.rows, p.value.cols], floats: p.value.array)
        }
        try SafeTensors(entries: entries, metadata: ["format": "pt"]).write(to: file)
        let (target, c) = session("seed 2\n\(mnistModel)")
        let before = try snapshot(target)
        XCTAssertEqual(run(target, "load \(file)"), 1)
        XCTAssertTrue(c.err.contains("'2.bias'"), c.err)
        XCTAssertTrue(c.err.contains(file), c.err)
        XCTAssertTrue(try snapshot(target).map(\.2) == before.map(\.2), "a refused load changes nothing")
        // A tensor of the wrong dtype is named with its dtype.
        var f64 = entries
        f64.append(SafeTensors.Entry(name: "2.bias", dtype: "F64", shape: [84], bytes: [UInt8](repeating: 0, count: 84 * 8)))
        let f64File = path("f64.safetensors")
        try SafeTensors(entries: f64, metadata: [:]).write(to: f64File)
        XCTAssertEqual(run(target, "load \(f64File)"), 1)
        XCTAssertTrue(c.err.contains("'2.bias'") && c.err.contains("F64") && c.err.contains("F32"), c.err)
        // A file that is not safetensors at all.
        let junk = path("junk.safetensors")
        try Data("this is not a safetensors file".utf8).write(to: URL(fileURLWithPath: junk))
        XCTAssertEqual(run(target, "load \(junk)"), 1)
        XCTAssertTrue(c.err.contains("not a valid safetensors file"), c.err)
        // A missing file.
        XCTAssertEqual(run(target, "load \(path("missing.safetensors"))"), 1)
        XCTAssertTrue(c.err.contains("missing.safetensors: no such file"), c.err)
        XCTAssertTrue(try snapshot(target).map(\.2) == before.map(\.2), "refused loads change nothing")
    }

    /// The checkpoint code says it checks everything before changing anything: a file whose
    /// tensors fit but whose metadata is malformed must leave the defined model as it was.
    func testAFailedLoadLeavesTheDefinedModelAsItWas() throws {
        let (source, _) = session("seed 1\n\(mnistModel)")
        let params = try XCTUnwrap(source.session.model).namedParameters
        let entries = params.map { name, p in
            SafeTensors.Entry(name: name, shape: p.name == "bias" ? [p.count] : [p.value.rows, p.value.cols], floats: p.value.array)
        }
        let file = path("bad-history.safetensors")
        try SafeTensors(entries: entries, metadata: ["mlpsh.history": "not a JSON list"]).write(to: file)
        let (target, c) = session("seed 2\n\(mnistModel)")
        let before = try snapshot(target)
        XCTAssertEqual(run(target, "load \(file)"), 1)
        XCTAssertTrue(c.err.contains("mlpsh.history"), c.err)
        XCTAssertTrue(try snapshot(target).map(\.2) == before.map(\.2),
                      "load failed on the metadata but had already overwritten the model's weights")
    }

    // MARK: - Resuming is bit-exact

    /// 3 epochs straight against 2 epochs, `save optimizer=true`, and a new session that loads
    /// the file and trains 1 more: the last epoch lines and the final weights must be identical.
    private func checkResume(optimizer: String, schedule: String = "", file: StaticString = #filePath, line: UInt = #line) throws {
        let setup = """
            seed 0
            \(mnistData)
            \(mnistModel)
            loss cross_entropy
            optim \(optimizer)
            \(schedule)
            """
        let (straight, s) = session(setup + "\ntrain epochs=3 batch=32 shuffle=true", file: file, line: line)
        let checkpoint = path("resume.safetensors")
        let (_, p) = session(setup + "\ntrain epochs=2 batch=32 shuffle=true\nsave \(checkpoint) optimizer=true", file: file, line: line)
        XCTAssertEqual(p.epochLines, Array(s.epochLines.prefix(2)), "the first two epochs agree", file: file, line: line)
        let (resumed, r) = session("""
            seed 0
            \(mnistData)
            load \(checkpoint)
            train epochs=1 batch=32 shuffle=true
            """, file: file, line: line)
        XCTAssertEqual(s.epochLines.count, 3, s.out, file: file, line: line)
        XCTAssertEqual(r.epochLines.count, 1, r.out + r.err, file: file, line: line)
        let last = try XCTUnwrap(s.epochLines.last)
        let resumedLine = try XCTUnwrap(r.epochLines.last)
        XCTAssertTrue(resumedLine.hasPrefix("epoch: 2,"), resumedLine, file: file, line: line)
        XCTAssertEqual(resumedLine, last, "the resumed epoch differs from the straight run's (\(optimizer))", file: file, line: line)
        try assertSameParameters(straight, resumed, file: file, line: line)
        XCTAssertEqual(resumed.session.history.count, 3, file: file, line: line)
        // The optimizer came back from the file.
        XCTAssertEqual(resumed.session.optimizer?.definition, straight.session.optimizer?.definition, file: file, line: line)
        XCTAssertEqual(resumed.session.optimizer?.steps, straight.session.optimizer?.steps, file: file, line: line)
    }

    func testResumeWithSGDMomentumIsBitExact() throws {
        try checkResume(optimizer: "sgd lr=0.05 momentum=0.9")
    }

    func testResumeWithAdamIsBitExact() throws {
        try checkResume(optimizer: "adam lr=0.001")
    }

    func testResumeWithAStepScheduleIsBitExact() throws {
        try checkResume(optimizer: "sgd lr=0.1 momentum=0.5 nesterov=true weight_decay=0.001", schedule: "schedule step step_size=1 gamma=0.5")
    }

    /// The same through the built executable, each part in a process of its own.
    func testResumeInANewProcessIsBitExact() throws {
        let executable = try XCTUnwrap(Self.executable, "the mlpsh executable was not found (build it with swift build)")
        let setup = """
            seed 0
            \(mnistData)
            \(mnistModel)
            loss cross_entropy
            optim sgd lr=0.05 momentum=0.9
            """
        let checkpoint = path("process.safetensors")
        let straight = try mlpsh(executable, script: setup + "\ntrain epochs=3 batch=32 shuffle=true\n")
        let first = try mlpsh(executable, script: setup + "\ntrain epochs=2 batch=32 shuffle=true\nsave \(checkpoint) optimizer=true\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint))
        let second = try mlpsh(executable, script: "seed 0\n\(mnistData)\nload \(checkpoint)\ntrain epochs=1 batch=32 shuffle=true\n")
        for r in [straight, first, second] {
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(r.err, "")
        }
        let straightEpochs = straight.out.split(separator: "\n").filter { $0.hasPrefix("epoch:") }
        let resumedEpochs = second.out.split(separator: "\n").filter { $0.hasPrefix("epoch:") }
        XCTAssertEqual(straightEpochs.count, 3, straight.out)
        XCTAssertEqual(resumedEpochs.count, 1, second.out)
        XCTAssertTrue(resumedEpochs.first?.hasPrefix("epoch: 2,") ?? false, second.out)
        XCTAssertEqual(resumedEpochs.last, straightEpochs.last)
        // And the executable agrees with the in-process run.
        let (_, inProcess) = session(setup + "\ntrain epochs=3 batch=32 shuffle=true")
        XCTAssertEqual(straightEpochs.map(String.init), inProcess.epochLines)
    }

    // MARK: - Atomic writes

    func testAFailedSaveLeavesTheOldFileAndNoTemporaryFile() throws {
        let file = path("model.safetensors")
        let (runner, c) = session("""
            seed 0
            \(mnistData)
            \(mnistModel)
            loss cross_entropy
            optim sgd lr=0.05
            train epochs=1 batch=32
            save \(file)
            train epochs=1 batch=32
            """)
        let good = try bytes(file)
        XCTAssertGreaterThan(good.count, 105_214 * 4)
        defer { AtomicFile.failureInjection = nil }
        var calls = 0
        AtomicFile.failureInjection = { _ in
            calls += 1
            throw EngineError("simulated write failure: no space left on device")
        }
        c.err = ""
        XCTAssertEqual(run(runner, "save \(file)"), 1, "a failed write must fail the command")
        AtomicFile.failureInjection = nil
        XCTAssertEqual(calls, 1)
        XCTAssertTrue(c.err.hasPrefix("test.mlp:1: error: "), c.err)
        XCTAssertTrue(c.err.contains("no space left on device"), c.err)
        XCTAssertTrue(try bytes(file) == good, "the old file was changed by a failed save")
        XCTAssertEqual(try leftoverTemporaryFiles(), [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted(), ["model.safetensors"])
        // The old file still loads.
        XCTAssertNoThrow(try SafeTensors(path: file))
        // Without the hook, the save goes through and replaces it.
        XCTAssertEqual(run(runner, "save \(file)"), 0, c.err)
        XCTAssertFalse(try bytes(file) == good, "the second epoch changed the weights")
        XCTAssertEqual(try leftoverTemporaryFiles(), [])
    }

    /// A failure after the first chunk is written (the optimizer's state makes the file larger
    /// than one chunk): the partly written temporary file is removed too.
    func testAFailureAfterTheFirstChunkLeavesTheOldFileAndNoTemporaryFile() throws {
        let file = path("adam.safetensors")
        let (runner, c) = session("""
            seed 0
            \(mnistData)
            \(mnistModel)
            loss cross_entropy
            optim adam lr=0.001
            train epochs=1 batch=64
            save \(file) optimizer=true
            train epochs=1 batch=64
            """)
        let good = try bytes(file)
        XCTAssertGreaterThan(good.count, 1 << 20, "the file needs more than one chunk")
        defer { AtomicFile.failureInjection = nil }
        var chunks: [Int] = []
        AtomicFile.failureInjection = { size in
            chunks.append(size)
            if chunks.count == 2 { throw EngineError("simulated failure on the second chunk") }
        }
        XCTAssertEqual(run(runner, "save \(file) optimizer=true"), 1)
        AtomicFile.failureInjection = nil
        XCTAssertEqual(chunks.count, 2)
        XCTAssertTrue(c.err.contains("simulated failure on the second chunk"), c.err)
        XCTAssertTrue(try bytes(file) == good, "the old file was changed by a failed save")
        XCTAssertEqual(try leftoverTemporaryFiles(), [])
        // A failed `plot` and `history out=` keep their old files the same way.
        let svg = path("loss.svg")
        XCTAssertEqual(run(runner, "plot loss out=\(svg)"), 0, c.err)
        let oldSVG = try bytes(svg)
        AtomicFile.failureInjection = { _ in throw EngineError("simulated failure") }
        XCTAssertEqual(run(runner, "train epochs=1 batch=64\nplot loss out=\(svg)"), 1)
        AtomicFile.failureInjection = nil
        XCTAssertTrue(try bytes(svg) == oldSVG)
        XCTAssertEqual(try leftoverTemporaryFiles(), [])
    }

    func testSavingIntoAMissingFolderSaysSo() throws {
        let (runner, c) = session("""
            seed 0
            \(mnistData)
            \(mnistModel)
            loss cross_entropy
            optim sgd lr=0.05
            train epochs=1 batch=64
            """)
        let missing = path("no/such/folder")
        XCTAssertEqual(run(runner, "save \(missing)/m.safetensors"), 1)
        XCTAssertTrue(c.err.hasPrefix("test.mlp:1: error: "), c.err)
        XCTAssertTrue(c.err.contains(missing), c.err)
        XCTAssertTrue(c.err.contains("does not exist"), c.err)
        c.err = ""
        XCTAssertEqual(run(runner, "plot loss out=/nonexistent/x.svg"), 1)
        XCTAssertTrue(c.err.contains("/nonexistent"), c.err)
        XCTAssertTrue(c.err.contains("does not exist"), c.err)
        c.err = ""
        XCTAssertEqual(run(runner, "plot accuracy out=\(missing)/a.svg"), 1)
        XCTAssertTrue(c.err.contains("does not exist"), c.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("no")))
        // Saving onto a folder is refused and the folder is untouched.
        let sub = path("sub")
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: false)
        c.err = ""
        XCTAssertEqual(run(runner, "save \(sub)"), 1)
        XCTAssertTrue(c.err.contains("is a folder"), c.err)
        var isDirectory: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: sub, isDirectory: &isDirectory) && isDirectory.boolValue)
        XCTAssertEqual(try leftoverTemporaryFiles(), [])
        // optimizer=true needs an optimizer; save needs a model.
        let (empty, e) = session("")
        XCTAssertEqual(run(empty, "save \(path("x.safetensors"))"), 1)
        XCTAssertTrue(e.err.contains("no model"), e.err)
        XCTAssertEqual(run(empty, "\(mnistModel)\nsave \(path("x.safetensors")) optimizer=true"), 1)
        XCTAssertTrue(e.err.contains("no optimizer"), e.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.safetensors")))
    }

    // MARK: - Files written elsewhere (PyTorch's layout, no mlpsh metadata)

    /// The six tensors of the 784-120-84-10 model with made-up values, as a file PyTorch
    /// would write from the matching nn.Sequential's state_dict (metadata "format": "pt" only).
    private func foreignFile(metadata: [String: String] = ["format": "pt"]) throws -> (String, [String: [UInt32]]) {
        let shapes: [(String, [Int])] = [("0.weight", [120, 784]), ("0.bias", [120]), ("2.weight", [84, 120]), ("2.bias", [84]),
                                         ("4.weight", [10, 84]), ("4.bias", [10])]
        var values: [String: [UInt32]] = [:]
        var entries: [SafeTensors.Entry] = []
        for (k, (name, shape)) in shapes.enumerated() {
            let n = shape.reduce(1, *)
            let floats = (0..<n).map { i in Float(sin(Double(i * 7 + k * 131))) * 0.05 }
            values[name] = floats.map(\.bitPattern)
            entries.append(SafeTensors.Entry(name: name, shape: shape, floats: floats))
        }
        let file = path("foreign.safetensors")
        try SafeTensors(entries: entries.reversed(), metadata: metadata).write(to: file)
        return (file, values)
    }

    func testAFileWithoutMlpshMetadataLoadsIntoADefinedModel() throws {
        let (file, values) = try foreignFile()
        let (runner, c) = session("""
            \(mnistData)
            \(mnistModel)
            load \(file)
            """)
        XCTAssertEqual(c.err, "")
        for (name, p) in try XCTUnwrap(runner.session.model).namedParameters {
            XCTAssertTrue(p.value.array.map(\.bitPattern) == values[name], name)
        }
        XCTAssertEqual(runner.session.history.count, 0)
        // With no metadata at all, too.
        let (bare, _) = try foreignFile(metadata: [:])
        let (other, o) = session("\(mnistModel)\nload \(bare)")
        XCTAssertEqual(o.err, "")
        try assertSameParameters(runner, other)
    }

    /// Evaluating a loaded model needs a loss, not an optimizer: `model ... end`, `load`,
    /// `loss cross_entropy`, `test` prints the test line.
    func testALoadedModelIsTestedWithoutChoosingAnOptimizer() throws {
        let (file, _) = try foreignFile()
        let (_, c) = session("""
            \(mnistData)
            \(mnistModel)
            load \(file)
            loss cross_entropy
            test
            """, expectSuccess: false)
        XCTAssertEqual(c.err, "", "'test' should evaluate without an optimizer")
        XCTAssertNotNil(c.lines.last?.range(of: #"^test_loss:\d+\.\d{5},test_acc:\d+\.\d%$"#, options: .regularExpression), c.out)
    }

    func testAFileWithoutMlpshMetadataNeedsADefinedModel() throws {
        let (file, _) = try foreignFile()
        let (runner, c) = session("load \(file)", expectSuccess: false)
        XCTAssertTrue(c.err.hasPrefix("test.mlp:1: error: "), c.err)
        XCTAssertTrue(c.err.contains(file), c.err)
        XCTAssertTrue(c.err.contains("no mlpsh model definition"), c.err)
        XCTAssertTrue(c.err.contains("define the model first"), c.err)
        XCTAssertNil(runner.session.model)
    }

    // MARK: - A file's metadata is data, not commands

    /// `load` rebuilds the model from the file's `mlpsh.model` and sets the loss, optimizer and
    /// schedule from `mlpsh.loss`, `mlpsh.optimizer`, `mlpsh.schedule`. Those texts come from
    /// the file: a hostile one must not be able to run other commands (echo here; `save`,
    /// `include` or `plugin load` would be worse) by closing the block or adding statements.
    func testMetadataCannotRunCommands() throws {
        let w = SafeTensors.Entry(name: "0.weight", shape: [3, 4], floats: [Float](repeating: 0.1, count: 12))
        let b = SafeTensors.Entry(name: "0.bias", shape: [3], floats: [0, 0, 0])
        let hostile: [(String, [String: String])] = [
            ("model-newline", ["mlpsh.model": "linear 4 3\nend\necho INJECTED\nmodel\nlinear 4 3"]),
            ("model-semicolon", ["mlpsh.model": "linear 4 3; end; echo INJECTED; model; linear 4 3"]),
            ("loss", ["mlpsh.model": "linear 4 3", "mlpsh.loss": "cross_entropy; echo INJECTED"]),
            ("loss-newline", ["mlpsh.model": "linear 4 3", "mlpsh.loss": "cross_entropy\necho INJECTED"]),
            ("optimizer", ["mlpsh.model": "linear 4 3", "mlpsh.optimizer": "sgd lr=0.1; echo INJECTED"]),
            ("schedule", ["mlpsh.model": "linear 4 3", "mlpsh.schedule": "none; echo INJECTED"]),
        ]
        for (label, meta) in hostile {
            let file = path("\(label).safetensors")
            try SafeTensors(entries: [w, b], metadata: meta).write(to: file)
            let (_, c) = session("load \(file)", expectSuccess: false)
            XCTAssertFalse(c.out.contains("INJECTED"), "\(label): the file's metadata ran a command: \(c.out)")
        }
    }
}

// MARK: - The built executable

extension CheckpointTests {
    static var executable: URL? { Fixtures.executable }
    typealias ProcessResult = Fixtures.ProcessResult

    /// Runs `script` (written to a file) with the executable, in the temporary folder, with
    /// `mnist=` set on the command line.
    func mlpsh(_ executable: URL, script: String) throws -> ProcessResult {
        let scriptURL = folder.appendingPathComponent("script-\(UUID().uuidString).mlp")
        try script.write(to: scriptURL, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: scriptURL) }
        let mnist = script.contains("$mnist") || script.contains("${mnist}") ? ["mnist=\(Self.mnistFolder)"] : []
        return try Fixtures.run(executable, [scriptURL.path] + mnist, in: folder, environment: ["MLPSH_DATA": nil])
    }
}
