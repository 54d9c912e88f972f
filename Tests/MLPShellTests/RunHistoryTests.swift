import Foundation
import XCTest
import MLPEngine
@testable import MLPShell

/// The run store and TensorBoard's encodings, in-process (Tests/runs drives them through real
/// processes and TensorBoard's own reader).
final class RunHistoryTests: XCTestCase {
    func testCRC32CAndTheTFRecordMask() {
        // The standard check value of CRC-32C, and the mask TensorFlow's record writer applies.
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        let c = CRC32C.checksum([1, 2, 3])
        XCTAssertEqual(CRC32C.masked([1, 2, 3]), ((c >> 15) | (c << 17)) &+ 0xA282_EAD8)
    }

    /// The generated Event (proto/tensorboard.proto) encodes as TensorFlow's: step 300 as field
    /// 2, the summary as field 5, its value's tag and simple_value as fields 1 and 2.
    func testTheEventEncoding() throws {
        var value = Tensorboard_Summary.Value()
        value.tag = "lr"
        value.simpleValue = 1
        var event = Tensorboard_Event()
        event.step = 300
        event.summary.value = [value]
        XCTAssertEqual(Array(try event.serializedData()),
                       [0x10, 0xAC, 0x02, 0x2A, 0x0B, 0x0A, 0x09, 0x0A, 0x02, 0x6C, 0x72, 0x15, 0x00, 0x00, 0x80, 0x3F])
    }

    func testAStoreOpensAgainAndKeepsItsRuns() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("runs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("nested/runs.sqlite").path
        let run = RunStore.Run(id: 0, name: "a", started: 1, ended: nil, status: "running", seconds: nil, source: "seed 0",
                               command: "epochs=1", model: "linear 2 2", loss: "cross_entropy", optimizer: "sgd lr=0.1",
                               schedule: "none", seed: 0, threads: 1, datasets: "", files: [])
        let id = try RunStore(path: path).begin(run)
        let again = try RunStore(path: path)
        try again.addEpoch(id, EpochResult(epoch: 0, trainLoss: .nan, trainAccuracy: 0.5, learningRate: 0.1, seconds: 1))
        try again.end(id, status: "finished", seconds: 2)
        let back = try again.run(id)
        XCTAssertEqual(back.status, "finished")
        XCTAssertEqual(back.epochs.count, 1)
        XCTAssertTrue(back.epochs[0].trainLoss.isNaN)
        XCTAssertEqual(try again.database.run("PRAGMA user_version").first?.first?.integer, 2)
        XCTAssertEqual(try again.database.run("PRAGMA journal_mode").first?.first?.text, "wal")
        XCTAssertThrowsError(try again.remove(id + 1))
    }
}
