import Foundation
import XCTest
@testable import MLPEngine

/// The CSV table reader: what it reads, what it refuses with the line, and that chunks split
/// anywhere (mid-line, mid-number, between \r and \n) read as the whole does.
final class CSVTableTests: XCTestCase {
    private func parse(_ text: String, label: String = "label", header: Bool = true, separator: Character = ",",
                       limit: Int = .max, chunk: Int = 1 << 20) throws -> CSVTable {
        let reader = try CSVTable.Reader(name: "t.csv", label: label, header: header, separator: separator.asciiValue!, limit: limit)
        let bytes = Array(text.utf8)
        var at = 0
        while at < bytes.count {
            let end = min(bytes.count, at + chunk)
            let more = try bytes[at..<end].withUnsafeBytes { try reader.consume($0) }
            at = end
            if !more { break }
        }
        return try reader.finish()
    }

    func testNumbersAndWholeNumberLabels() throws {
        let t = try parse("a, b ,label\n1,2,0\r\n3.5,-4e2,2\n\n5,6,1")
        XCTAssertEqual(t.columnNames, ["a", "b", "label"])
        XCTAssertEqual(t.values, [1, 2, 3.5, -400, 5, 6])
        XCTAssertEqual(t.labels, [0, 2, 1])
        XCTAssertEqual(t.classNames, ["0", "1", "2"])
    }

    func testNamedLabelsAreSortedAndTheColumnCanBeAnywhere() throws {
        let t = try parse("species;x\nsetosa;1\nvirginica;2\nsetosa;3\nversicolor;4\n", label: "species", separator: ";")
        XCTAssertEqual(t.classNames, ["setosa", "versicolor", "virginica"])
        XCTAssertEqual(t.labels, [0, 2, 0, 1])
        XCTAssertEqual(t.values, [1, 2, 3, 4])
        let noHeader = try parse("1,2,cat\n3,4,dog\n", label: "last", header: false)
        XCTAssertEqual(noHeader.columnNames, ["0", "1", "2"])
        XCTAssertEqual(noHeader.values, [1, 2, 3, 4])
        XCTAssertEqual(noHeader.classNames, ["cat", "dog"])
        // A column by its index: x is the label here.
        XCTAssertEqual(try parse("x,y\n1,0\n2,1\n", label: "0").labels, [1, 2])
    }

    func testChunksSplitAnywhereReadAsTheWhole() throws {
        var text = "f1,f2,f3,label\r\n"
        var random = RandomSource(seed: 3)
        for i in 0..<300 {
            text += String(format: "%.5f,%.3e,%d,%@\r\n", random.uniform(-1, 1), random.uniform(-1e6, 1e6), i, ["x", "y", "z"][i % 3])
        }
        let whole = try parse(text)
        for chunk in [1, 2, 3, 7, 64, 1000] {
            let split = try parse(text, chunk: chunk)
            XCTAssertEqual(split.values, whole.values, "chunk \(chunk)")
            XCTAssertEqual(split.labels, whole.labels, "chunk \(chunk)")
            XCTAssertEqual(split.classNames, whole.classNames)
        }
        XCTAssertEqual(whole.rows, 300)
        XCTAssertEqual(try parse(text, limit: 10, chunk: 5).rows, 10)
    }

    func testRefusalsNameTheLine() throws {
        func message(_ text: String, label: String = "label") -> String {
            do { _ = try parse(text, label: label); return "no error" } catch let e as EngineError { return e.message } catch { return "\(error)" }
        }
        XCTAssertEqual(message("a,label\n1,0\n2\n"), "t.csv:3: 1 fields, expected 2")
        XCTAssertEqual(message("a,label\n1,0\nx,1\n"), "t.csv:3: 'x' in column a is not a number")
        XCTAssertEqual(message("a,label\n1e39,0\n"), "t.csv:2: '1e39' in column a is not a number")
        XCTAssertEqual(message("a,b\n1,0\n", label: "nope"), "t.csv: no label column 'nope' among a, b")
        XCTAssertEqual(message("label\n1\n"), "t.csv: needs a label column and at least one feature column")
        XCTAssertEqual(message("a,label\n"), "t.csv: a header but no rows")
        XCTAssertEqual(message(""), "t.csv: no rows")
        XCTAssertEqual(message("a,label\n1,\u{FF}\n"), "no error")  // a replacement character is text
        let invalid = [UInt8]("a,label\n1,".utf8) + [0xFF, 0x0A]
        let reader = try CSVTable.Reader(name: "t.csv", label: "label", header: true, separator: UInt8(ascii: ","), limit: .max)
        XCTAssertThrowsError(try invalid.withUnsafeBytes { try reader.consume($0) }) {
            XCTAssertEqual(($0 as? EngineError)?.message, "t.csv:2: not UTF-8 text")
        }
    }

    func testTooManyLabelsAndTooLongALineAreRefused() throws {
        var text = "x,label\n"
        for i in 0...CSVTable.maximumClasses { text += "1,c\(i)\n" }
        XCTAssertThrowsError(try parse(text)) {
            XCTAssertTrue(($0 as? EngineError)?.message.contains("more than 65536 distinct labels") ?? false, "\($0)")
        }
        let reader = try CSVTable.Reader(name: "t.csv", label: "label", header: true, separator: UInt8(ascii: ","), limit: .max)
        let long = [UInt8](repeating: UInt8(ascii: "1"), count: CSVTable.maximumLineBytes / 4)
        XCTAssertThrowsError(try (0..<5).forEach { _ in _ = try long.withUnsafeBytes { try reader.consume($0) } }) {
            XCTAssertTrue(($0 as? EngineError)?.message.contains("a line longer than") ?? false, "\($0)")
        }
    }

    func testReadsAFileAndAGzippedOne() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("csv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let plain = folder.appendingPathComponent("t.csv").path
        try "a,label\n1,1\n2,0\n".write(toFile: plain, atomically: true, encoding: .utf8)
        XCTAssertEqual(try CSVTable.read(path: plain).values, [1, 2])
        let gz = Process()
        gz.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gz.arguments = ["-k", plain]
        try gz.run()
        gz.waitUntilExit()
        XCTAssertEqual(try CSVTable.read(path: plain + ".gz").labels, [1, 0])
        XCTAssertThrowsError(try CSVTable.read(path: folder.path))
    }
}
