import Foundation
import XCTest
@testable import MLPShell
import MLPEngine

/// Faults a long-running tool meets: a loss that blows up, targets all ignored, values out of
/// range, unreadable or inconsistent data, and a full disk (a real tmpfs of 64 KiB). Each gives
/// one clear error and, in a script, exit status 1; no file that was there is harmed.
final class ReliabilityTests: FolderTestCase {
    /// Runs `script` from standard input; returns the result.
    private func mlpsh(_ script: String) throws -> Fixtures.ProcessResult {
        try Fixtures.mlpsh(["-"], input: script, in: folder, environment: ["MLPSH_DATA": nil])
    }

    /// The script fails at `line` with one error line containing every one of `words`.
    private func expectError(_ script: String, line: Int, _ words: [String], file: StaticString = #filePath, line testLine: UInt = #line) throws {
        let r = try mlpsh(script)
        XCTAssertEqual(r.status, 1, "\(script)\n\(r.err)", file: file, line: testLine)
        XCTAssertEqual(r.err.split(separator: "\n").count, 1, "one error line: \(r.err)", file: file, line: testLine)
        XCTAssertTrue(r.err.hasPrefix("<stdin>:\(line): error: "), r.err, file: file, line: testLine)
        for w in words { XCTAssertTrue(r.err.contains(w), "'\(w)' in \(r.err)", file: file, line: testLine) }
    }

    private let tinySetup = """
        seed 0
        data train synthetic classes=3 features=4 n=96
        data test synthetic classes=3 features=4 n=30
        model
          linear 4 16
          relu
          linear 16 3
        end
        loss cross_entropy
        """

    // MARK: - Numeric faults

    func testALossThatBlowsUpStopsTheScriptNamingEpochAndBatch() throws {
        let r = try mlpsh(tinySetup + "\noptim sgd lr=1e30\ntrain epochs=3 batch=16\necho not reached\n")
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertFalse(r.out.contains("not reached"))
        let pattern = try NSRegularExpression(pattern: #"^<stdin>:\d+: error: loss became (NaN|Inf) at epoch 0, batch \d+ \(try a smaller lr\)\n$"#)
        XCTAssertNotNil(pattern.firstMatch(in: r.err, range: NSRange(r.err.startIndex..., in: r.err)), r.err)
    }

    /// The weights after the error are those from before the batch whose loss was not finite.
    func testTheWeightsFromBeforeTheBadBatchAreKept() throws {
        let c = Console(write: { _ in }, writeError: { _ in })
        let runner = Runner(console: c)
        XCTAssertEqual(runner.guarded { try runner.interpreter.run(source: tinySetup + "\noptim sgd lr=1e30", file: "t") }, 0)
        let s = runner.session
        let trainer = try makeTrainer(s)
        let loader = BatchLoader(dataset: try s.requireDataset("train"), batchSize: 16)
        var snapshot: [[Float]] = s.model!.parameters.map(\.value.array)
        var finished = 0
        trainer.hooks.batchEnded = { p in
            snapshot = s.model!.parameters.map(\.value.array)
            finished = p.batch
        }
        XCTAssertThrowsError(try trainer.trainEpoch(loader, epoch: 0, shuffle: false)) { error in
            XCTAssertTrue("\(error)".contains("at epoch 0, batch \(finished + 1) "), "\(error) after \(finished) batches")
        }
        XCTAssertGreaterThan(finished, 0, "the first batch's loss is finite")
        let after = s.model!.parameters.map(\.value.array)
        XCTAssertEqual(after.map { $0.map(\.bitPattern) }, snapshot.map { $0.map(\.bitPattern) })
        XCTAssertTrue(s.model!.parameters.allSatisfy { $0.grad.array.allSatisfy { $0 == 0 } }, "no gradient is left over")
    }

    func testTargetsAllIgnoredGiveLossZeroAndTheHelpSaysSo() throws {
        for name in ["cross_entropy", "nll"] {
            let entry = try Registries.shared.losses.lookup(name)
            let loss = try entry.make(Arguments(options: try Options(["ignore_index": "2"], specs: entry.options, owner: name)))
            var gradient = [Float](repeating: .nan, count: 6)
            let value = try loss.compute(output: [0.1, -2, 3, 1, 1, 1], rows: 2, cols: 3, targets: [2, 2], gradient: &gradient)
            XCTAssertEqual(value, 0, name)
            XCTAssertEqual(gradient, [Float](repeating: 0, count: 6), name)
        }
        let r = try Fixtures.mlpsh(["-c", "help cross_entropy; help nll"], in: folder)
        XCTAssertEqual(r.out.components(separatedBy: "all equal ignore_index has loss 0").count, 3, r.out)
    }

    // MARK: - Values out of range

    func testOptionValuesOutOfRange() throws {
        try expectError(tinySetup + "\noptim sgd lr=0.1\ntrain epochs=-1\n", line: 11, ["epochs=-1", "out of range"])
        try expectError(tinySetup + "\noptim sgd lr=0.1\ntrain epochs=1 batch=0\n", line: 11, ["batch=0", "out of range"])
        try expectError("optim sgd lr=-0.5\n", line: 1, ["lr=-0.5", "out of range"])
        try expectError("model\n  linear 4 8\n  dropout p=1\nend\n", line: 3, ["p=1", "out of range"])
        try expectError("model\n  linear 4 8\n  dropout p=-0.1\nend\n", line: 3, ["p=-0.1", "out of range"])
        try expectError("threads 0\n", line: 1, ["0", "threads"])
        try expectError("model\n  linear 4 0\nend\n", line: 2, ["0"])
        try expectError("model\n  linear 0 4\nend\n", line: 2, ["0"])
        try expectError("model\n  linear 100000 100000\nend\n", line: 2, ["too large"])
        try expectError("data train synthetic classes=3 features=4 n=0\n", line: 1, ["n=0"])
    }

    // MARK: - Data files

    /// An IDX file of unsigned bytes, gzip-free.
    private func idx(_ dims: [Int], fill: UInt8 = 0) -> Data {
        var bytes: [UInt8] = [0, 0, 8, UInt8(dims.count)]
        for d in dims { bytes += [UInt8(d >> 24 & 0xff), UInt8(d >> 16 & 0xff), UInt8(d >> 8 & 0xff), UInt8(d & 0xff)] }
        return Data(bytes + [UInt8](repeating: fill, count: dims.reduce(1, *)))
    }

    func testImagesAndLabelsThatDisagreeInCount() throws {
        let dir = folder.appendingPathComponent("mnist")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try idx([5, 28, 28]).write(to: dir.appendingPathComponent("t10k-images-idx3-ubyte"))
        try idx([4]).write(to: dir.appendingPathComponent("t10k-labels-idx1-ubyte"))
        try expectError("data test mnist split=test path=\(dir.path)\n", line: 1, ["5 images", "4 labels"])
    }

    func testAFolderWhereADataFileShouldBe() throws {
        let dir = folder.appendingPathComponent("mnist")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("t10k-images-idx3-ubyte"), withIntermediateDirectories: true)
        try idx([4]).write(to: dir.appendingPathComponent("t10k-labels-idx1-ubyte"))
        try expectError("data test mnist split=test path=\(dir.path)\n", line: 1, ["t10k-images-idx3-ubyte", "is a folder"])
        try expectError("model\n  linear 784 10\nend\npredict \(dir.path)\n", line: 4, ["is a folder"])
    }

    /// A data file without read permission, read by an unprivileged user (root reads
    /// everything): skipped where the tests cannot switch user with setpriv.
    func testADataFileThatCannotBeRead() throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), let mlpsh = Fixtures.executable else {
            throw XCTSkip("needs root and setpriv to run mlpsh as another user")
        }
        let dir = folder.appendingPathComponent("mnist")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try idx([2, 28, 28]).write(to: dir.appendingPathComponent("t10k-images-idx3-ubyte"))
        try idx([2]).write(to: dir.appendingPathComponent("t10k-labels-idx1-ubyte"))
        for (p, mode) in [(folder.path, 0o755), (dir.path, 0o755), (dir.appendingPathComponent("t10k-images-idx3-ubyte").path, 0o000)] {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: p)
        }
        let r = try Fixtures.run(URL(fileURLWithPath: "/usr/bin/setpriv"),
                                 ["--reuid=65534", "--regid=65534", "--clear-groups", mlpsh.path, "-c", "data test mnist split=test path=\(dir.path)"],
                                 in: FileManager.default.temporaryDirectory)
        guard !r.err.contains("Permission denied") || r.err.contains("cannot be read") else {
            throw XCTSkip("the unprivileged user cannot run the built mlpsh here: \(r.err)")
        }
        XCTAssertEqual(r.status, 1, r.err)
        XCTAssertTrue(r.err.contains("t10k-images-idx3-ubyte: cannot be read"), r.err)
    }

    // MARK: - A full disk

    /// Mounts a 64 KiB tmpfs (as root; skipped where mounting is not allowed, and the injected
    /// write failures in CheckpointTests cover the same code).
    private func smallDisk() throws -> URL {
        let mountPoint = folder.appendingPathComponent("disk")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        let r = try Fixtures.run(URL(fileURLWithPath: "/bin/mount"), ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint.path], in: folder)
        guard r.status == 0 else { throw XCTSkip("cannot mount a tmpfs here: \(r.err)") }
        addTeardownBlock { _ = try? Fixtures.run(URL(fileURLWithPath: "/bin/umount"), [mountPoint.path], in: FileManager.default.temporaryDirectory) }
        return mountPoint
    }

    func testAFullDiskLeavesEveryOldFileAsItWas() throws {
        let disk = try smallDisk()
        let files = ["w.safetensors", "loss.svg", "h.csv", "log.csv"].map { disk.appendingPathComponent($0).path }
        let setup = tinySetup + "\noptim sgd lr=0.1\n"
        // First the good files, while there is room.
        let first = try mlpsh(setup + "train epochs=2 batch=16 log=\(files[3])\nsave \(files[0])\nplot loss out=\(files[1])\nhistory out=\(files[2])\n")
        XCTAssertEqual(first.status, 0, first.err)
        let good = try files.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        // Then fill the disk.
        let filler = FileHandle(forWritingAtPath: { let p = disk.appendingPathComponent("filler").path
            FileManager.default.createFile(atPath: p, contents: nil); return p }())!
        while (try? filler.write(contentsOf: Data(repeating: 0xAB, count: 4096))) != nil {}
        try? filler.close()
        for (i, command) in ["save \(files[0])", "plot loss out=\(files[1])", "history out=\(files[2])",
                             "train epochs=1 batch=16 log=\(files[3])"].enumerated() {
            let r = try mlpsh(setup + "train epochs=1 batch=16\n" + command + "\necho not reached\n")
            XCTAssertEqual(r.status, 1, "\(command): \(r.err)")
            XCTAssertFalse(r.out.contains("not reached"))
            XCTAssertTrue(r.err.contains("No space left on device") && r.err.contains("the old file is unchanged"), "\(command): \(r.err)")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: files[i])), good[i], "\(command) changed the old file")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: disk.path).filter { $0.contains(".tmp-") }
            XCTAssertEqual(leftovers, [], command)
        }
    }

    // MARK: - A long session

    /// 1,000 commands of train, test, predict, save and load in one process: resident memory
    /// after the first 50 and after the last differ by less than 8 MB.
    func testAThousandCommandsKeepMemoryFlat() throws {
        let weights = path("long.safetensors")
        var script = """
            seed 0
            data train synthetic classes=10 features=64 n=256
            data test synthetic classes=10 features=64 n=64
            model
              linear 64 32
              relu
              linear 32 10
            end
            loss cross_entropy
            optim sgd lr=0.01 momentum=0.9

            """
        for i in 0..<200 {
            if i == 10 { script += "memory\n" }
            script += "train epochs=1 batch=32\ntest\npredict test:3\nsave \(weights) optimizer=true\nload \(weights)\n"
        }
        script += "memory\n"
        // (Under AddressSanitizer, freed memory waits in a quarantine that would look like growth.)
        let r = try Fixtures.mlpsh(["-"], input: script, in: folder,
                                   environment: ["MLPSH_DATA": nil, "ASAN_OPTIONS": "quarantine_size_mb=0:detect_leaks=0"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out.components(separatedBy: "Done\n").count - 1, 200)
        let resident = r.out.split(separator: "\n").filter { $0.hasPrefix("resident ") }.compactMap { Double($0.split(separator: " ")[1]) }
        XCTAssertEqual(resident.count, 2, r.out)
        guard resident.count == 2 else { return }
        XCTAssertLessThan(resident[1] - resident[0], 8, "resident memory grew from \(resident[0]) MB to \(resident[1]) MB")
    }
}
