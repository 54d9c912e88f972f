import Foundation
import XCTest

/// Each kind of mistake, run through the real `mlpsh` executable on a script file: standard
/// error must be exactly one line `FILE:LINE: error: WHAT` naming what was wrong and what was
/// expected, and the exit status 1.
final class ErrorTests: FolderTestCase {
    static var executable: URL? { Fixtures.executable }
    typealias Result = Fixtures.ProcessResult

    /// Runs mlpsh with `arguments` in the temporary folder, feeding `input` to its standard input.
    private func mlpsh(_ arguments: [String], input: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        try Fixtures.mlpsh(arguments, input: input, in: folder, environment: ["MLPSH_DATA": nil], file: file, line: line)
    }

    private func script(_ text: String, name: String = "script.mlp") throws -> String {
        let url = folder.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Runs `text` as a script and checks: status 1, one line `PATH:LINE: error: ...` on
    /// standard error, holding every one of `words`. Returns the message after "error: ".
    @discardableResult
    private func expectError(_ text: String, line expectedLine: Int, _ words: [String],
                             file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let path = try script(text)
        let r = try mlpsh([path])
        XCTAssertEqual(r.status, 1, "exit status; stderr: \(r.err)", file: file, line: line)
        XCTAssertTrue(r.err.hasSuffix("\n"), "stderr: \(r.err)", file: file, line: line)
        XCTAssertEqual(r.err.filter { $0 == "\n" }.count, 1, "stderr must be one line: \(r.err)", file: file, line: line)
        let prefix = "\(path):\(expectedLine): error: "
        XCTAssertTrue(r.err.hasPrefix(prefix), "expected \(prefix)...; got \(r.err)", file: file, line: line)
        for w in words {
            XCTAssertTrue(r.err.contains(w), "stderr lacks '\(w)': \(r.err)", file: file, line: line)
        }
        return String(r.err.dropFirst(prefix.count)).trimmingCharacters(in: .newlines)
    }

    // MARK: - Misspelled names

    func testMisspelledCommand() throws {
        try expectError("seed 0\ntrian epochs=1\n", line: 2, ["unknown command 'trian'", "did you mean 'train'?"])
    }

    func testMisspelledLayer() throws {
        try expectError("model\n  linear 784 120\n  lineer 120 10\nend\n", line: 3,
                        ["unknown layer 'lineer'", "known: linear, relu", "did you mean 'linear'?"])
    }

    func testMisspelledLoss() throws {
        try expectError("loss cross_entropyy\n", line: 1, ["unknown loss 'cross_entropyy'", "did you mean 'cross_entropy'?"])
    }

    func testMisspelledOptimizer() throws {
        try expectError("# optimizers\noptim adamm lr=0.1\n", line: 2, ["unknown optimizer 'adamm'", "sgd, adam", "did you mean 'adam'?"])
    }

    func testMisspelledDataset() throws {
        try expectError("data train mnistt split=train\n", line: 1, ["unknown dataset 'mnistt'", "did you mean 'mnist'?"])
    }

    func testMisspelledOption() throws {
        try expectError("optim sgd lrr=0.1\n", line: 1, ["unknown option 'lrr'", "optim sgd", "did you mean 'lr'?"])
        try expectError("train epochz=1\n", line: 1, ["unknown option 'epochz'", "did you mean 'epochs'?"])
    }

    // MARK: - Bad values

    func testBadNumber() throws {
        try expectError("optim sgd lr=abc\n", line: 1, ["lr=abc", "not a number"])
        try expectError("train epochs=two\n", line: 1, ["epochs=two", "not a whole number"])
        try expectError("model\n  linear 784 x\nend\n", line: 2, ["'x' is not a width"])
    }

    func testWrongWidthNamesBothWidths() throws {
        let message = try expectError("model\n  linear 784 120\n  relu\n  linear 100 84\nend\n", line: 4, ["linear 100 84", "100", "120"])
        XCTAssertEqual(message, "linear 100 84: expects 100 inputs, but the layer before gives 120")
    }

    func testUnclosedBlockIsReportedAtTheModelLine() throws {
        try expectError("seed 0\n\nmodel\n  linear 4 3\n  relu\n", line: 3, ["'model' block is not closed", "'end'"])
    }

    func testOutOfRangeOptions() throws {
        try expectError("train epochs=1 batch=0\n", line: 1, ["batch=0", "out of range", ">= 1"])
        try expectError("optim sgd lr=-1\n", line: 1, ["lr=-1", "out of range", ">= 0"])
        try expectError("model\n  linear 4 8\n  dropout p=1.5\n  linear 8 3\nend\n", line: 3, ["p=1.5", "dropout", "out of range", "< 1"])
        try expectError("loss cross_entropy label_smoothing=2\n", line: 1, ["label_smoothing=2", "out of range"])
    }

    // MARK: - Data files

    func testMissingDataFolder() throws {
        try expectError("seed 0\ndata train mnist split=train path=/nonexistent\n", line: 2,
                        ["/nonexistent", "train-images-idx3-ubyte", "scripts/fetch-mnist"])
    }

    func testCorruptGzipDataFile() throws {
        let data = folder.appendingPathComponent("corrupt")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let garbage = Data([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3] + (0..<300).map { UInt8(($0 * 91 + 7) % 256) })
        try garbage.write(to: data.appendingPathComponent("train-images-idx3-ubyte.gz"))
        try garbage.write(to: data.appendingPathComponent("train-labels-idx1-ubyte.gz"))
        try expectError("data train mnist path=\(data.path)\n", line: 1, ["train-images-idx3-ubyte.gz", "corrupt"])
    }

    func testWrongMagicDataFile() throws {
        let data = folder.appendingPathComponent("magic")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        try Data("P5 28 28 255\nnot an idx file at all".utf8).write(to: data.appendingPathComponent("train-images-idx3-ubyte"))
        try Data([0, 0, 8, 1, 0, 0, 0, 1, 5]).write(to: data.appendingPathComponent("train-labels-idx1-ubyte"))
        try expectError("data train mnist path=\(data.path)\n", line: 1, ["train-images-idx3-ubyte", "magic"])
    }

    // MARK: - Scripts stop at the first error

    func testScriptStopsAtItsFirstError() throws {
        let path = try script("echo first\noptim sgd lr=abc\necho second\n")
        let r = try mlpsh([path])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.out, "first\n")
        XCTAssertTrue(r.err.hasPrefix("\(path):2: error: "), r.err)
    }

    func testCommandLineVariablesOverrideSet() throws {
        let path = try script("set epochs 50\necho epochs $epochs\n")
        let r = try mlpsh([path, "epochs=2"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "epochs 2\n")
    }

    // MARK: - The ways to run

    func testDashCRunsCommandsSeparatedBySemicolons() throws {
        let r = try mlpsh(["-c", "echo hi; echo there"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "hi\nthere\n")
        XCTAssertEqual(r.err, "")
        let bad = try mlpsh(["-c", "echo hi; trian"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.out, "hi\n")
        XCTAssertEqual(bad.err, "-c:1: error: unknown command 'trian'; did you mean 'train'?\n")
    }

    func testDashReadsTheScriptFromStandardInput() throws {
        let r = try mlpsh(["-", "who=stdin"], input: "echo from $who\nset x 3\necho x=$x\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "from stdin\nx=3\n")
        let bad = try mlpsh(["-"], input: "echo ok\n\nlineer\n")
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.err.hasPrefix("<stdin>:3: error: "), bad.err)
    }

    func testHelpExplainsVariablesAndTheDataFolder() throws {
        let r = try mlpsh(["--help"])
        XCTAssertEqual(r.status, 0)
        let text = r.out + r.err
        XCTAssertTrue(text.contains("MLPSH_DATA"), text)
        XCTAssertTrue(text.contains("NAME=VALUE"), text)
        XCTAssertTrue(text.contains("-c"), text)
    }

    func testNonexistentScriptIsAnError() throws {
        let r = try mlpsh([folder.appendingPathComponent("missing.mlp").path])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.out, "")
        XCTAssertTrue(r.err.contains("missing.mlp"), r.err)
        XCTAssertTrue(r.err.contains("no such file"), r.err)
        XCTAssertEqual(r.err.filter { $0 == "\n" }.count, 1, r.err)
    }
}
