import Foundation
import XCTest
import MLPEngine

/// Every input in the fuzz corpus and every input that once crashed a fuzz target
/// (Tests/Fuzz/regressions/TARGET), run through the same target code (FuzzTargets) as the
/// fuzzer does. A regression that comes back crashes this test.
final class FuzzRegressionTests: XCTestCase {
    private func inputs(_ kind: String, _ target: String) throws -> [URL] {
        let folder = Fixtures.packageFolder.appendingPathComponent("Tests/Fuzz/\(kind)/\(target)")
        guard FileManager.default.fileExists(atPath: folder.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .sorted { $0.path < $1.path }
    }

    func testEveryCorpusAndRegressionInputRuns() throws {
        var count = 0
        for target in FuzzTargets.names {
            XCTAssertFalse(try inputs("corpus", target).isEmpty, "Tests/Fuzz/corpus/\(target) has no seed")
            for url in try inputs("corpus", target) + inputs("regressions", target) {
                FuzzTargets.run(target, [UInt8](try Data(contentsOf: url)))
                count += 1
            }
        }
        XCTAssertGreaterThanOrEqual(count, 12)
    }

    func testTheIDXOverflowFoundByTheFuzzerIsAnError() throws {
        let bytes = [UInt8](Data(base64Encoded: "AAAIA/QAIgDWQAX09Pb0ACL0AAD09NZAAQAA")!)
        // Four dimensions whose product overflows Int: refused with a message, not a trap.
        XCTAssertThrowsError(try IDXArray(parsing: bytes, name: "f")) {
            XCTAssertTrue("\($0)".contains("implausibly large"), "\($0)")
        }
        let url = Fixtures.packageFolder.appendingPathComponent("Tests/Fuzz/regressions/idx/overflowing-dimensions")
        XCTAssertEqual([UInt8](try Data(contentsOf: url)), bytes)
    }

    func testAnEmptyLayerListFoundByTheFuzzerIsAnError() throws {
        // mlpsh.layers "[ ]": a model of no layers; its error once indexed the empty list.
        let file = SafeTensors(entries: [], metadata: ["mlpsh.layers": "[ ]"])
        XCTAssertThrowsError(try Checkpoint.read(file, name: "f", into: nil, dataShape: [4], random: RandomGenerator(seed: 0))) {
            XCTAssertEqual(($0 as? EngineError)?.message, "f: its metadata does not rebuild: the model has no layers: put layers between 'model' and 'end'")
        }
    }

    /// A safetensors file whose header is 640 bytes begins 80 02, as an old-format pickle does:
    /// found by the checkpoint target, it is read as safetensors (its byte 8 is the JSON's '{').
    func testAHeaderLengthThatLooksLikeAPickleIsStillSafetensors() throws {
        var width = 1
        var file = SafeTensors(entries: [], metadata: [:])
        repeat {
            file = SafeTensors(entries: [SafeTensors.Entry(name: "w", shape: [1], floats: [1])], metadata: ["pad": String(repeating: "x", count: width)])
            width += 1
        } while Array(try file.serialized().prefix(2)) != [0x80, 0x02]
        let back = try SafeTensors(parsing: file.serialized(), name: "f")
        XCTAssertEqual(back.entries.map(\.name), ["w"])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pickle-like-\(UUID()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try file.write(to: path)
        XCTAssertEqual(try SafeTensors(path: path).entries.map(\.name), ["w"])
        // A real pickle is still named as one.
        XCTAssertThrowsError(try SafeTensors(parsing: [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9], name: "p")) {
            XCTAssertTrue("\($0)".contains("Python pickle"), "\($0)")
        }
    }
}
