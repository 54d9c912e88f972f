import Foundation
import XCTest
import MLPEngine
@testable import MLPShell

/// From the hostile tester's list: written files keep the process's umask (and a replaced
/// file its mode), settings that round to infinity are refused, and `train log=` appends a
/// row an epoch instead of rewriting the file.
final class HostileInputTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mlpsh-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func mode(_ name: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(name).path)[.posixPermissions] as! NSNumber).intValue
    }

    func testSavedFilesFollowTheUmaskAndKeepAReplacedFilesMode() throws {
        let executable = try XCTUnwrap(Fixtures.executable)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "umask 077; exec '\(executable.path)' -c 'model; linear 2 2; end; save private.safetensors; history out=h.csv'"]
        p.currentDirectoryURL = folder
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertEqual(try mode("private.safetensors"), 0o600)
        XCTAssertEqual(try mode("h.csv"), 0o600)
        // A file that is there keeps its mode when it is replaced.
        let kept = folder.appendingPathComponent("kept.safetensors")
        FileManager.default.createFile(atPath: kept.path, contents: Data(), attributes: [.posixPermissions: 0o640])
        XCTAssertEqual(try Fixtures.mlpsh(["-c", "model; linear 2 2; end; save kept.safetensors"], in: folder).status, 0)
        XCTAssertEqual(try mode("kept.safetensors"), 0o640)
    }

    func testSettingsThatRoundToInfinityAreRefused() throws {
        for command in ["optim sgd lr=1e39", "optim adam eps=-4e38", "loss cross_entropy label_smoothing=1e39", "model; linear 4 3; leaky_relu slope=3.5e38; end"] {
            let r = try Fixtures.mlpsh(["-c", command], in: folder)
            XCTAssertEqual(r.status, 1, command)
            XCTAssertTrue(r.err.contains("out of range"), "\(command): \(r.err)")
        }
    }

    func testTheLogGetsARowAnEpoch() throws {
        let r = try Fixtures.mlpsh(["-c", "seed 0; data train synthetic n=32; model; linear 4 3; end; loss cross_entropy; optim sgd lr=0.1; "
                                    + "train epochs=500 batch=32 log=log.csv; history out=all.csv"], in: folder)
        XCTAssertEqual(r.status, 0, r.err)
        let log = try String(contentsOf: folder.appendingPathComponent("log.csv"), encoding: .utf8)
        let all = try String(contentsOf: folder.appendingPathComponent("all.csv"), encoding: .utf8)
        XCTAssertEqual(log.split(separator: "\n").count, 501)
        XCTAssertEqual(log, all, "the appended log is the history, row for row")
        // A second train starts its own log.
        let again = try Fixtures.mlpsh(["-c", "data train synthetic n=32; model; linear 4 3; end; loss cross_entropy; optim sgd lr=0.1; "
                                        + "train epochs=2 batch=32 log=log.csv; train epochs=3 batch=32 log=log.csv"], in: folder)
        XCTAssertEqual(again.status, 0, again.err)
        let rows = try String(contentsOf: folder.appendingPathComponent("log.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.count, 4)
        XCTAssertEqual(rows.dropFirst().map { $0.split(separator: ",")[0] }, ["2", "3", "4"])
    }

    // MARK: - Reads check before they read; writes never replace what is not a regular file

    func testDevicesFIFOsHugeFilesAndEndlessInputAreRefusedBeforeReading() throws {
        let fifo = folder.appendingPathComponent("fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let sparse = folder.appendingPathComponent("sparse.safetensors").path
        XCTAssertTrue(FileManager.default.createFile(atPath: sparse, contents: nil))
        XCTAssertEqual(truncate(sparse, 5 << 30), 0)
        let cases: [(String, String)] = [
            ("model; linear 784 10; end; predict /dev/zero", "/dev/zero is a device"),
            ("load /dev/urandom", "/dev/urandom is a device"),
            ("load \(fifo)", "is a FIFO"),
            ("include \(fifo)", "is a FIFO"),
            ("load \(sparse)", "not a valid safetensors file"),
        ]
        for (command, words) in cases {
            let r = try Fixtures.mlpsh(["-c", command], in: folder)
            XCTAssertEqual(r.status, 1, command)
            XCTAssertTrue(r.err.contains(words), "\(command): \(r.err)")
        }
        // Endless standard input stops at the script limit.
        let p = Process()
        p.executableURL = try XCTUnwrap(Fixtures.executable)
        p.arguments = ["-"]
        p.standardInput = try XCTUnwrap(FileHandle(forReadingAtPath: "/dev/zero"))
        let err = Pipe()
        p.standardError = err
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1)
        XCTAssertTrue(message.contains("a script is at most"), message)
    }

    func testWritesRefuseDevicesAndFIFOsAndGoThroughSymlinks() throws {
        let fifo = folder.appendingPathComponent("fifo.csv").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        var commands = [("history out=\(fifo)", "is a FIFO: refused")]
        // A device node of our own (as /dev/null is, 1:3), where we may make one (root).
        let device = folder.appendingPathComponent("null").path
        if mknod(device, S_IFCHR | 0o666, dev_t((1 << 8) | 3)) == 0 {   // makedev(1, 3)
            commands.append(("model; linear 2 2; end; save \(device)", "is a device: refused"))
        }
        for (command, words) in commands {
            let r = try Fixtures.mlpsh(["-c", command], in: folder)
            XCTAssertEqual(r.status, 1, command)
            XCTAssertTrue(r.err.contains(words), "\(command): \(r.err)")
        }
        var st = stat()
        XCTAssertEqual(lstat(fifo, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO, "the FIFO is still a FIFO")
        if lstat(device, &st) == 0 { XCTAssertEqual(st.st_mode & S_IFMT, S_IFCHR, "the device is still a device") }
        // A symlink is written through to its target, which is replaced; the link stays.
        let target = folder.appendingPathComponent("real.csv").path
        FileManager.default.createFile(atPath: target, contents: Data("old".utf8))
        let link = folder.appendingPathComponent("link.csv").path
        XCTAssertEqual(symlink("real.csv", link), 0)
        XCTAssertEqual(try Fixtures.mlpsh(["-c", "history out=\(link)"], in: folder).status, 0)
        XCTAssertEqual(lstat(link, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFLNK, "the link is still a link")
        XCTAssertTrue(try String(contentsOfFile: target, encoding: .utf8).hasPrefix("epoch,"))
    }

    // MARK: - What is saved must load; bounded tables and words

    func testValuesThatRoundOntoTheirBoundAreRefused() throws {
        let r = try Fixtures.mlpsh(["-c", "model; linear 4 4; dropout p=0.99999999999; end"], in: folder)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("rounds to 1.0 in float32: it must be < 1.0"), r.err)
        // Just below the bound in float32 is fine, and the file loads again.
        let ok = try Fixtures.mlpsh(["-c", "model; linear 4 4; dropout p=0.9999999; end; save d.safetensors"], in: folder)
        XCTAssertEqual(ok.status, 0, ok.err)
        let back = try Fixtures.mlpsh(["-c", "load d.safetensors; summary"], in: folder)
        XCTAssertEqual(back.status, 0, back.err)
    }

    func testConfusionOnAWideOutputIsRefused() throws {
        let r = try Fixtures.mlpsh(["-c", "model; linear 4 30000; end; data test synthetic features=4; confusion"], in: folder)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("30000 classes") && r.err.contains("use 'test'"), r.err)
    }

    func testAVariableThatDoublesItselfStopsAtALine() throws {
        let script = "set a xxxxxxxxxxxxxxxx\n" + String(repeating: "set a $a$a\n", count: 30)
        let r = try Fixtures.mlpsh(["-"], input: script, in: folder)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.hasPrefix("<stdin>:18: error: a word grows past 1048576 bytes"), r.err)
    }

    // MARK: - Text from files never reaches the terminal raw

    func testControlCharactersFromAFileArePrintedEscaped() throws {
        let w = SafeTensors.Entry(name: "0.weight", shape: [3, 4], floats: [Float](repeating: 0, count: 12))
        let b = SafeTensors.Entry(name: "0.bias", shape: [3], floats: [0, 0, 0])
        let evil = SafeTensors.Entry(name: "\u{1B}[2J\u{1B}[Hforged\rline\u{9B}", shape: [1], floats: [0])
        let file = folder.appendingPathComponent("esc.safetensors").path
        try SafeTensors(entries: [w, b, evil], metadata: [:]).write(to: file)
        let r = try Fixtures.mlpsh(["-c", "model; linear 4 3; end; load \(file)"], in: folder)
        XCTAssertEqual(r.status, 1)
        XCTAssertFalse(r.err.unicodeScalars.contains { $0.value == 0x1B || $0 == "\r" || $0.value == 0x9B }, r.err.debugDescription)
        XCTAssertTrue(r.err.contains("'\\e[2J\\e[Hforged\\rline\\u{9B}' matches nothing"), r.err)
        XCTAssertEqual(printable("plain text"), "plain text")
        XCTAssertEqual(printable("a\u{7}b\u{7F}"), "a\\u{7}b\\u{7F}")
    }

    /// Histories at the edges draw, in SVG, PNG and the terminal, or give an error; none
    /// crashes or loops (1e17 next to 1e17 + 16 once made the tick loop endless).
    func testAnyHistoryDrawsOrGivesAnError() throws {
        func epoch(_ e: Int, _ loss: Double, _ test: Double? = 0.5, acc: Double = 0.5) -> EpochResult {
            EpochResult(epoch: e, trainLoss: loss, trainAccuracy: acc, testLoss: test, testAccuracy: test.map { _ in acc },
                        learningRate: 0.1, seconds: 1)
        }
        let histories: [(String, [EpochResult])] = [
            ("epoch Int.max", [epoch(Int.max - 1, 1), epoch(Int.max, 2)]),
            ("±1e308", [epoch(0, 1e308), epoch(1, -1e308, -1e308, acc: 1e308)]),
            ("greatest magnitudes", [epoch(0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude), epoch(1, -.greatestFiniteMagnitude)]),
            ("1e17 and 1e17 + 16", [epoch(0, 1e17, 1e17), epoch(1, 1e17 + 16, 1e17 + 16)]),
            ("one epoch", [epoch(0, 0.25)]),
            ("a flat 1e308", [epoch(0, 1e308, 1e308), epoch(1, 1e308, 1e308)]),
            ("tiny", [epoch(0, 1e-300, 5e-324), epoch(1, 2e-300)]),
            ("NaN and infinity among numbers", [epoch(0, .nan), epoch(1, .infinity, -.infinity), epoch(2, 0.5)]),
        ]
        for (name, history) in histories {
            for what in ["loss", "accuracy"] {
                let chart = try historyChart(what, history)
                let svg = SVGChart.render(chart)
                XCTAssertFalse(svg.contains("nan") || svg.contains("inf"), "\(name) \(what)")
                XCTAssertLessThan(svg.utf8.count, 100_000, "\(name) \(what)")
                _ = TerminalChart.render(chart, columns: 80)
                XCTAssertGreaterThan(try PNGRaster.png(fromSVG: svg, width: SVGChart.width, height: SVGChart.height).count, 1000)
            }
        }
        XCTAssertThrowsError(try historyChart("loss", [epoch(0, .nan, nil), epoch(1, .infinity, nil)])) {
            XCTAssertTrue("\($0)".contains("not finite numbers"), "\($0)")
        }
        XCTAssertTrue((1...10).contains(niceTicks(1e17...(1e17 + 16)).count))
        XCTAssertEqual(niceTicks(-1e308...1e308), [-1e308, 1e308])
    }

    /// What is saved loads: a history holding NaN or infinities is written and read back as it
    /// was (it was once written as an empty list).
    func testAHistoryWithNaNIsSavedAndLoadsBack() throws {
        let history = [EpochResult(epoch: 0, trainLoss: .nan, trainAccuracy: 0.1, testLoss: .infinity, testAccuracy: 0.2, learningRate: 0.1, seconds: 1),
                       EpochResult(epoch: 1, trainLoss: -.infinity, trainAccuracy: 0.3, learningRate: 0.1, seconds: 2)]
        let model = try Sequential.build([Spec("linear", args: ["2", "2"])], inputShape: [2], random: RandomGenerator(seed: 0))
        let file = try Checkpoint.file(model: model, history: history, loss: nil, optimizer: nil, schedule: .none,
                                       random: RandomGenerator(seed: 0), training: false, version: "test")
        let back = try SafeTensors(parsing: file.serialized(), name: "h.safetensors")
        let read = try XCTUnwrap(try Checkpoint.read(back, name: "h.safetensors", into: nil, dataShape: nil, random: RandomGenerator(seed: 0)).history)
        XCTAssertEqual(read.count, 2)
        XCTAssertTrue(read[0].trainLoss.isNaN)
        XCTAssertEqual(read[0].testLoss, .infinity)
        XCTAssertEqual(read[1].trainLoss, -.infinity)
        XCTAssertEqual(read[1].trainAccuracy, 0.3)
    }
}
