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
}
