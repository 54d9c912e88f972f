import Foundation
import XCTest
@testable import MLPShell
@testable import MLPEngine

/// A newcomer's second hour: the version, include with variables, a softmax before
/// cross_entropy, and what `data` says at the prompt (tested through a terminal in Tests/repl).
final class SecondHourTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mlpsh-second-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func testVersion() throws {
        let r = try Fixtures.mlpsh(["--version"], in: folder)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "mlpsh \(mlpshVersion) (engine \(engineVersion))\n")
    }

    /// `include FILE NAME=VALUE` works as NAME=VALUE on the command line: it wins over the
    /// file's `set`, only while the file runs, and one the file never uses is an error.
    func testIncludeTakesVariablesAsTheCommandLineDoes() throws {
        let script = folder.appendingPathComponent("ex.mlp")
        try "set epochs 50\necho training for $epochs epochs\n".write(to: script, atomically: true, encoding: .utf8)
        let r = try Fixtures.mlpsh(["-c", "include \(script.path) epochs=1; echo after: $epochs; include \(script.path)"], in: folder)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "training for 1 epochs\nafter: 50\ntraining for 50 epochs\n")
        let typo = try Fixtures.mlpsh(["-c", "include \(script.path) epoch=1"], in: folder)
        XCTAssertEqual(typo.status, 1)
        XCTAssertTrue(typo.err.contains("epoch=1 is given, but \(script.path) never uses $epoch") && typo.err.contains("did you mean 'epochs'"), typo.err)
        XCTAssertFalse(typo.out.contains("training"), typo.out)
    }

    func testASoftmaxBeforeCrossEntropyIsWarnedAbout() throws {
        let setup = "seed 1; data train synthetic classes=3 features=4 n=60; model; linear 4 3; softmax; end; optim sgd lr=0.1"
        let r = try Fixtures.mlpsh(["-c", "\(setup); loss cross_entropy; train epochs=1 batch=20"], in: folder)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("warning: the model ends in softmax, and cross_entropy applies softmax itself"), r.err)
        let nll = try Fixtures.mlpsh(["-c", "\(setup); loss nll; train epochs=1 batch=20"], in: folder)
        XCTAssertTrue(nll.err.contains("nll expects log-probabilities"), nll.err)
        let fine = try Fixtures.mlpsh(["-c", "\(setup.replacingOccurrences(of: "softmax", with: "relu")); loss cross_entropy; train epochs=1 batch=20"], in: folder)
        XCTAssertFalse(fine.err.contains("warning"), fine.err)
    }

    /// A layer that takes its input's shape, first in a model defined before any data, is an
    /// error (it was a 1-wide layer); a test set alone gives the shape as train does.
    func testAModelBeforeItsDataSaysTheShapeIsUnknown() throws {
        for first in ["flatten", "relu", "dropout p=0.1"] {
            let r = try Fixtures.mlpsh(["-c", "model; \(first); linear 784 120; end"], in: folder)
            XCTAssertEqual(r.status, 1, "\(first): \(r.out)")
            XCTAssertTrue(r.err.contains("the input's shape is unknown") || r.err.contains("the input width is unknown"), r.err)
        }
        let r = try Fixtures.mlpsh(["-c", "data test synthetic classes=3 features=4 n=30; model; flatten; linear 3; end; summary"], in: folder)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("linear(4 -> 3)"), r.out)
    }

    /// A run's source is the statements that took effect, variables expanded and model lines
    /// indented: refused lines and blocks are left out, and it replays as a script.
    func testARunsSourceIsAScriptThatReproducesIt() throws {
        let captured = CapturedConsole()
        let runner = Runner(console: captured.console, variables: ["lr": "0.1"])
        for line in ["set n 60", "data train synthetic classes=3 features=4 n=$n", "trian", "model", "linear 4 3", "nosuch", "end",
                     "model", "linear 4 3", "end", "loss cross_entropy", "optim sgd lr=$lr", "help seed", "echo \"a b\" $$5"] {
            _ = runner.guarded { try runner.interpreter.feed(line: line, location: nil) }
        }
        XCTAssertEqual(runner.session.transcript, ["set n 60", "data train synthetic classes=3 features=4 n=60", "model", "  linear 4 3", "end",
                                                   "loss cross_entropy", "optim sgd lr=0.1", "echo \"a b\" $$5"])
        // Through the run store: runs script gives it back with the train line, and it replays.
        let store = folder.appendingPathComponent("runs.sqlite").path
        let setup = "set n 60; data train synthetic classes=3 features=4 n=$n; trian"
        _ = try Fixtures.mlpsh(["-c", setup], in: folder, environment: ["MLPSH_RUNS": store])
        let first = try Fixtures.mlpsh(["-", "lr=0.1"], input: "set n 60\ndata train synthetic classes=3 features=4 n=$n\nmodel\n linear 4 3\nend\n"
                                       + "loss cross_entropy\noptim sgd lr=$lr\ntrain epochs=2 batch=20\n", in: folder, environment: ["MLPSH_RUNS": store])
        XCTAssertEqual(first.status, 0, first.err)
        let script = try Fixtures.mlpsh(["-c", "runs script 1"], in: folder, environment: ["MLPSH_RUNS": store])
        XCTAssertEqual(script.out, "set n 60\ndata train synthetic classes=3 features=4 n=60\nmodel\n  linear 4 3\nend\n"
                       + "loss cross_entropy\noptim sgd lr=0.1\ntrain epochs=2 batch=20\n")
        let replay = try Fixtures.mlpsh(["-"], input: script.out, in: folder, environment: ["MLPSH_RUNS": store])
        XCTAssertEqual(replay.out, first.out)
    }
}

/// A console that keeps what is written.
private final class CapturedConsole {
    var out = "", err = ""
    lazy var console = Console(write: { [unowned self] in self.out += $0 }, writeError: { [unowned self] in self.err += $0 }, showsProgress: false)
}
