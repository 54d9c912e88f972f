import Foundation
import XCTest

/// Examples/lenet5.mlp as written, on a slice of MNIST (12,000 training images, 2 epochs,
/// 1,000 test images), in a real process. Measured: 92.2%, 92.7% and 92.4% test accuracy with
/// seeds 2, 1 and 0; the full script reaches 99.0% at epoch 10.
final class LeNetTests: XCTestCase {
    func testLeNetFiveLearnsOnASliceOfMNIST() throws {
        try Fixtures.requireMNIST()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mlpsh-lenet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Examples/lenet5.mlp")
        var script = try String(contentsOf: example, encoding: .utf8)
        script = script.replacingOccurrences(of: "split=train\n", with: "split=train limit=12000 path=\(Fixtures.mnistFolder)\n")
        script = script.replacingOccurrences(of: "split=test\n", with: "split=test limit=1000 path=\(Fixtures.mnistFolder)\n")
        let path = folder.appendingPathComponent("lenet5.mlp")
        try script.write(to: path, atomically: true, encoding: .utf8)
        let r = try Fixtures.mlpsh([path.path, "epochs=2"], in: folder)
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").filter { $0.hasPrefix("epoch:") }
        XCTAssertEqual(lines.count, 2, r.out)
        let accuracy = try XCTUnwrap(lines.last.flatMap { line in
            line.range(of: #"test_acc:[0-9.]+"#, options: .regularExpression).map { Double(line[$0].dropFirst(9))! }
        })
        XCTAssertGreaterThanOrEqual(accuracy, 90, r.out)
        // It saved the weights as PyTorch names them, conv weights [OUT, IN, K, K].
        let saved = try SafeTensorsFile(folder.appendingPathComponent("lenet5.safetensors").path)
        XCTAssertEqual(saved.shapes["0.weight"], [6, 1, 5, 5])
        XCTAssertEqual(saved.shapes["3.weight"], [16, 6, 5, 5])
        XCTAssertEqual(saved.shapes["7.weight"], [120, 400])
    }
}

/// The tensor shapes in a safetensors file's header.
private struct SafeTensorsFile {
    let shapes: [String: [Int]]
    init(_ path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as! [String: Any]
        var shapes: [String: [Int]] = [:]
        for (k, v) in header where k != "__metadata__" { shapes[k] = ((v as! [String: Any])["shape"] as! [NSNumber]).map(\.intValue) }
        self.shapes = shapes
    }
}
