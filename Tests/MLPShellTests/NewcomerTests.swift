import Foundation
import XCTest
@testable import MLPShell
@testable import MLPEngine

/// What a newcomer met: `#` inside a word, piped input, a mistyped variable on the command
/// line, starting over and seeing the state, and a loaded model that could not be tested.
final class NewcomerTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mlpsh-newcomer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private let tiny = """
        seed 1
        data train synthetic classes=3 features=4 n=60
        data test synthetic classes=3 features=4 n=30
        model
          linear 4 3
        end
        """

    func testAHashInsideAWordIsNotAComment() throws {
        let r = try Fixtures.mlpsh(["-c", "model; linear 4 3; end; save run#3.safetensors # a comment"], in: folder)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("run#3.safetensors").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("run").path))
    }

    func testPipedInputIsAScript() throws {
        let r = try Fixtures.mlpsh([], input: "echo a\ntrian\necho b\n", in: folder)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.out, "a\n")
        XCTAssertTrue(r.err.hasPrefix("<stdin>:2: error: unknown command 'trian'"), r.err)
    }

    func testAVariableTheScriptNeverUsesIsAnError() throws {
        let script = folder.appendingPathComponent("ex.mlp")
        try "set epochs 50\necho training for $epochs epochs\n".write(to: script, atomically: true, encoding: .utf8)
        let r = try Fixtures.mlpsh([script.path, "epoch=2"], in: folder)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.out, "", "nothing runs")
        for w in ["epoch=2", "never uses $epoch", "$epochs", "did you mean 'epochs'"] {
            XCTAssertTrue(r.err.contains(w), "\(w): \(r.err)")
        }
        // Used, directly or in an included file, it is fine.
        let ok = try Fixtures.mlpsh([script.path, "epochs=2"], in: folder)
        XCTAssertEqual(ok.out, "training for 2 epochs\n", ok.err)
        let part = folder.appendingPathComponent("part.mlp")
        try "echo rate ${lr}\n".write(to: part, atomically: true, encoding: .utf8)
        try "include \(part.path)\n".write(to: script, atomically: true, encoding: .utf8)
        XCTAssertEqual(try Fixtures.mlpsh([script.path, "lr=0.1"], in: folder).out, "rate 0.1\n")
    }

    func testResetShowAndScheduleAlone() throws {
        let r = try Fixtures.mlpsh(["-"], input: tiny + """

            loss cross_entropy
            optim sgd lr=0.1
            schedule step step_size=2
            schedule
            train epochs=1 batch=16
            show
            reset
            show
            summary
            """, in: folder)
        XCTAssertEqual(r.status, 1, "summary after reset has no model")
        // The report's columns are aligned; compare with single spaces.
        let out = r.out.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.split(separator: " ").joined(separator: " ") }.joined(separator: "\n")
        XCTAssertTrue(out.hasPrefix("step step_size=2 gamma=0.1\n"), out)
        XCTAssertTrue(out.contains("model: linear 4 3"), out)
        XCTAssertTrue(out.contains("optimizer: sgd lr=0.1"), out)
        XCTAssertTrue(out.contains("epochs done: 1"), out)
        XCTAssertTrue(out.contains("data: test: synthetic"), out)
        // After reset: no model, loss, optimizer; the schedule is none; the data stays.
        let after = String(out[try XCTUnwrap(out.range(of: "epochs done: 1\n")).upperBound...])
        for w in ["model: (none)", "loss: (none)", "optimizer: (none)", "schedule: none", "epochs done: 0", "train: synthetic"] {
            XCTAssertTrue(after.contains(w), "\(w): \(after)")
        }
        XCTAssertTrue(r.err.contains("no model yet"), r.err)
    }

    func testALoadedModelCanBeTestedWithTheLossItWasTrainedWith() throws {
        let weights = folder.appendingPathComponent("w.safetensors").path
        XCTAssertEqual(try Fixtures.mlpsh(["-"], input: tiny + "\nloss cross_entropy label_smoothing=0.1\noptim adam lr=0.01\ntrain epochs=1 batch=16\nsave \(weights)\n", in: folder).status, 0)
        // A new session with data and nothing else: load brings the loss and the optimizer.
        let r = try Fixtures.mlpsh(["-"], input: "data test synthetic classes=3 features=4 n=30\nload \(weights)\ntest\nloss\noptim\n", in: folder)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.hasPrefix("test_loss:"), r.out)
        XCTAssertTrue(r.out.contains("cross_entropy label_smoothing=0.1"), r.out)
        XCTAssertTrue(r.out.contains("adam lr=0.01"), r.out)
        // The session's own choices stay.
        let own = try Fixtures.mlpsh(["-"], input: "loss mse\noptim sgd lr=0.5\nload \(weights)\nloss\noptim\n", in: folder)
        XCTAssertEqual(own.out, "mse\nsgd lr=0.5\n", own.err)
    }
}

/// The progress bar never wraps: at any width its line is at most columns − 1 long, and the
/// fields go in order as the terminal narrows.
final class ProgressLineTests: XCTestCase {
    func testTheLineFitsEveryWidth() {
        for columns in [20, 30, 40, 50, 60, 70, 80, 100, 120, 200] {
            let line = progressLine(epoch: 12, batch: 512, of: 938, rate: 187_500, loss: 0.123456, left: "3s", columns: columns)
            XCTAssertLessThanOrEqual(line.count, columns - 1, "\(columns): \(line)")
            XCTAssertTrue(line.hasPrefix("epoch 12"), line)
        }
        let wide = progressLine(epoch: 1, batch: 469, of: 938, rate: 187_500, loss: 0.5, left: "3s", columns: 120)
        XCTAssertEqual(wide, "epoch 1 ████████████░░░░░░░░░░░░ 469/938  187500 samples/s  loss 0.5000  3s left")
        let sixty = progressLine(epoch: 1, batch: 469, of: 938, rate: 187_500, loss: 0.5, left: "3s", columns: 60)
        XCTAssertFalse(sixty.contains("samples/s"), sixty)
        XCTAssertTrue(sixty.contains("loss 0.5000") && sixty.contains("3s left"), sixty)
    }

    /// TERM=dumb (or no TERM): redrawn with a carriage return and spaces, never an escape code.
    func testAPlainTerminalGetsNoEscapeCodes() {
        func drawn(term: String?) -> String {
            var err = ""
            let console = Console(write: { _ in }, writeError: { err += $0 }, showsProgress: true)
            let bar = ProgressReporter(console: console, samplesPerEpoch: 100, term: term)
            bar.update(TrainingProgress(epoch: 0, batch: 1, of: 2, samples: 50, runningLoss: 1.5))
            bar.update(TrainingProgress(epoch: 10, batch: 2, of: 2, samples: 100, runningLoss: 0.5))
            bar.clear()
            return err
        }
        XCTAssertTrue(drawn(term: "xterm-256color").contains("\u{1B}[2K"))
        for term in ["dumb", nil, ""] {
            let err = drawn(term: term)
            XCTAssertFalse(err.contains("\u{1B}"), "\(String(describing: term)): \(err)")
            let draws = err.split(separator: "\r", omittingEmptySubsequences: false).dropFirst().map(String.init)
            // The second bar is drawn over the first, and the end blanks what is on the line.
            XCTAssertEqual(draws.count, 4, err)
            XCTAssertTrue(draws[0].hasPrefix("epoch 0 ") && draws[1].hasPrefix("epoch 10 "), err)
            XCTAssertGreaterThanOrEqual(draws[1].count, draws[0].count, err)
            XCTAssertEqual(draws[2], String(repeating: " ", count: draws[1].count), err)
            XCTAssertEqual(draws[3], "", err)
        }
    }
}

/// `plot out=` writes the format its extension names: SVG, or PNG rendered from that SVG by
/// librsvg; any other extension is an error that writes nothing.
final class PlotFormatTests: XCTestCase {
    func testPNGAndSVGAndNothingElse() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mlpsh-plot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let r = try Fixtures.mlpsh(["-"], input: """
            seed 0
            data train synthetic n=120
            model
              linear 4 3
            end
            loss cross_entropy
            optim sgd lr=0.1
            train epochs=3 batch=16
            plot loss out=loss.png
            plot accuracy out=acc.SVG
            plot loss out=loss.jpg
            """, in: folder)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("out=loss.jpg: '.jpg' names no format plot writes: use .svg or .png"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("loss.jpg").path))
        let svg = try String(contentsOf: folder.appendingPathComponent("acc.SVG"), encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg") || svg.hasPrefix("<?xml"), String(svg.prefix(40)))
        let png = [UInt8](try Data(contentsOf: folder.appendingPathComponent("loss.png")))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // Decoded: the figure's size at twice the SVG's, white paper with dark lines and text on it.
        let image = try GreyImage.decodePNG(png)
        XCTAssertEqual([image.width, image.height], [1280, 960])
        let dark = image.pixels.filter { $0 < 128 }.count, white = image.pixels.filter { $0 == 255 }.count
        XCTAssertGreaterThan(dark, 2_000)
        XCTAssertGreaterThan(white, image.pixels.count / 2)
    }
}
