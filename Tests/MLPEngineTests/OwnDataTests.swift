import Foundation
import Synchronization
import XCTest
@testable import MLPEngine

/// Image folders' resizing against PIL's numbers, and the validation split.
final class OwnDataTests: XCTestCase {
    private func bytes(_ text: String) -> [UInt8] { text.split(separator: " ").map { UInt8($0)! } }

    /// (37x + 91y + 50c) mod 256, interleaved.
    private func ramp(_ w: Int, _ h: Int, _ channels: Int) -> [UInt8] {
        var out: [UInt8] = []
        for y in 0..<h { for x in 0..<w { for c in 0..<channels { out.append(UInt8((x * 37 + y * 91 + c * 50) % 256)) } } }
        return out
    }

    /// PIL 13's Image.resize(..., Image.BILINEAR) of a 9x7 grey ramp ((37x + 91y) mod 256) and a
    /// 6x5 RGB one (+50 a channel): shrinking, enlarging and each axis alone. Within 2/255.
    func testResizingMatchesPILsBilinear() {
        let grey = Picture(width: 9, height: 7, channels: 1, pixels: ramp(9, 7, 1))
        let shrink = bytes("98 130 124 106 108 113 130 123 129 111 116 130")
        let rows = bytes("48 85 109 146 183 111 148 51 88 118 155 58 95 132 118 155 121 158 101 138 124 161 64 101 138 104 141 108 145 73 110 134 171 74 111 148")
        let columns = bytes("81 121 150 104 101 141 98 138 135 89 118 158 111 94")
        let enlarge = bytes("0 20 46 71 97 122 148 174 199 205 54 20 40 41 61 87 112 138 163 189 134 124 139 68 61 81 99 119 140 149 173 198 224 88 42 68 93 119 139 157 177 160 57 68 93 119 96 100 126 151 177 197 122 142 130 43 56 81 107 133 158 177 138 142 162 17 37 63 88 114 139 165 191 216 222 71 37 57 75 95 121 146 172 147 60 86 111 130 91 95 115 133 153 162 139 160 128 25 51 76 102 127 153 173 191 211 182 47 55 73 83 109 134 160 185 211 231 109 129 128 73 90 115 141 167 138 78 103 129 149 34 54 80 105 131 156 182 208 135 3 28 54 74")
        let expected: [(Int, Int, [UInt8])] = [(4, 3, shrink), (9, 4, rows), (2, 7, columns), (13, 11, enlarge)]
        for (w, h, pil) in expected {
            let ours = grey.resized(width: w, height: h).pixels
            let worst = zip(ours, pil).map { abs(Int($0) - Int($1)) }.max()!
            XCTAssertLessThanOrEqual(worst, 2, "\(w)x\(h): \(ours) against PIL's \(pil)")
        }
        let rgb = Picture(width: 6, height: 5, channels: 3, pixels: ramp(6, 5, 3))
        let pil = bytes("53 103 153 105 155 132 158 172 148 141 150 109 139 136 97 96 99 111 102 133 126 118 147 140 83 133 183 135 168 137 139 108 105 94 144 84")
        let ours = rgb.resized(width: 4, height: 3).pixels
        XCTAssertLessThanOrEqual(zip(ours, pil).map { abs(Int($0) - Int($1)) }.max()!, 2, "\(ours)")
        // Planar: each channel's plane after the other.
        XCTAssertEqual(Picture(width: 2, height: 1, channels: 3, pixels: [1, 2, 3, 4, 5, 6]).planar, [1, 4, 2, 5, 3, 6])
    }

    /// The validation split: disjoint from what is left, together all of it, the same with the
    /// same seed and another with another seed.
    /// A folder over `memory` is decoded from disk each batch: the same samples as in memory,
    /// and a file that stops decoding after the folder was read gives zeros and one warning.
    func testAFolderOverItsMemoryIsStreamedFromDisk() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("streamed-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        for (c, name) in ["cat", "dog"].enumerated() {
            try FileManager.default.createDirectory(atPath: root + "/" + name, withIntermediateDirectories: true)
            for i in 0..<3 {
                let pixels = (0..<16).map { UInt8((c * 100 + i * 10 + $0) % 256) }
                try Data(Array("P5\n4 4\n255\n".utf8) + pixels).write(to: URL(fileURLWithPath: "\(root)/\(name)/\(i).pgm"))
            }
        }
        let warnings = Mutex<[String]>([])
        let warn: @Sendable (String) -> Void = { w in warnings.withLock { $0.append(w) } }
        let kept = try ImageFolder.load(path: root, size: nil, channels: 1, skipBad: true, warn: warn)
        let streamed = try ImageFolder.load(path: root, size: nil, channels: 1, skipBad: true, memory: 95, warn: warn)
        XCTAssertTrue(kept is ByteImageDataset)
        XCTAssertTrue(streamed is StreamedImageFolder, streamed.summary)
        XCTAssertTrue(streamed.summary.hasSuffix("decoded from disk each batch: 96 is over memory=95)"), streamed.summary)
        XCTAssertEqual(streamed.classNames, ["cat", "dog"])
        XCTAssertNotEqual(streamed.checksum, 0)
        func all(_ d: Dataset) -> ([Float], [Int32]) {
            var x = [Float](repeating: -1, count: 6 * 16), y = [Int32](repeating: -1, count: 6)
            let order: [Int32] = [5, 0, 3, 1, 4, 2]
            order.withUnsafeBufferPointer { d.fill(indices: $0, x: &x, labels: &y) }
            return (x, y)
        }
        XCTAssertEqual(all(streamed).0, all(kept).0)
        XCTAssertEqual(all(streamed).1, [1, 0, 1, 0, 1, 0])
        XCTAssertTrue(warnings.withLock { $0.isEmpty })
        try Data("gone".utf8).write(to: URL(fileURLWithPath: root + "/dog/2.pgm"))
        let (x, _) = all(streamed), (before, _) = all(kept)
        XCTAssertEqual(Array(x[0..<16]), [Float](repeating: 0, count: 16))   // index 5 is dog/2
        XCTAssertEqual(Array(x[16...]), Array(before[16...]))
        _ = all(streamed)
        let said = warnings.withLock { $0 }
        XCTAssertEqual(said.count, 1)
        XCTAssertTrue(said.first?.contains("dog/2.pgm") == true && said.first?.contains("its sample is zeros") == true, "\(said)")
    }

    func testTheValidationSplitIsDisjointAndSeeded() throws {
        let data = FloatDataset(summary: "d", sampleShape: [1], classNames: ["a", "b"], values: (0..<1000).map(Float.init),
                                labels: (0..<1000).map { Int32($0 % 2) })
        let (rest, part) = try Subset.split(data, fraction: 0.1, seed: 7, name: "val")
        XCTAssertEqual(part.count, 100)
        XCTAssertEqual(rest.count, 900)
        XCTAssertTrue(Set(rest.indices).isDisjoint(with: part.indices))
        XCTAssertEqual(Set(rest.indices + part.indices).count, 1000)
        XCTAssertEqual(try Subset.split(data, fraction: 0.1, seed: 7, name: "val").part.indices, part.indices)
        XCTAssertNotEqual(try Subset.split(data, fraction: 0.1, seed: 8, name: "val").part.indices, part.indices)
        // The part's samples are the base's, by index.
        var x = [Float](repeating: 0, count: 3), labels = [Int32](repeating: 0, count: 3)
        [Int32(0), 1, 2].withUnsafeBufferPointer { part.fill(indices: $0, x: &x, labels: &labels) }
        XCTAssertEqual(x, part.indices.prefix(3).map(Float.init))
        XCTAssertThrowsError(try Subset.split(data, fraction: 0.0001, seed: 7, name: "val"))
        XCTAssertThrowsError(try Subset.split(data, fraction: 1, seed: 7, name: "val"))
    }

    /// Augmentation: a flip of probability 1 mirrors each row; no transform leaves the image;
    /// the same seed draws the same images, the next epoch other ones, and labels never change.
    func testAugmentationFlipsShiftsAndIsSeeded() throws {
        let values: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]
        let data = FloatDataset(summary: "d", sampleShape: [2, 3, 3], classNames: ["a"], values: values, labels: [0])
        func draw(_ a: Augmentation, seed: UInt64, times: Int = 1) throws -> [[Float]] {
            let augmented = try Augmented(data, a, seed: seed)
            return (0..<times).map { _ in
                var x = [Float](repeating: 0, count: 18), label: Int32 = 7
                [Int32(0)].withUnsafeBufferPointer { augmented.fill(indices: $0, x: &x, labels: &label) }
                XCTAssertEqual(label, 0)
                return x
            }
        }
        XCTAssertEqual(try draw(Augmentation(), seed: 1)[0], values)
        XCTAssertEqual(try draw(Augmentation(flipProbability: 1), seed: 1)[0],
                       [3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10, 15, 14, 13, 18, 17, 16])
        let shifted = try draw(Augmentation(padding: 1), seed: 3, times: 8)
        // A shift by at most one pixel, zeros coming in: every value is 0 or one of the image's.
        XCTAssertTrue(shifted.allSatisfy { $0.allSatisfy { $0 == 0 || values.contains($0) } })
        XCTAssertGreaterThan(Set(shifted).count, 1, "each draw of the sample is drawn afresh")
        XCTAssertEqual(try draw(Augmentation(padding: 1, degrees: 20), seed: 3, times: 3),
                       try draw(Augmentation(padding: 1, degrees: 20), seed: 3, times: 3))
        XCTAssertNotEqual(try draw(Augmentation(padding: 1, degrees: 20), seed: 3, times: 3),
                          try draw(Augmentation(padding: 1, degrees: 20), seed: 4, times: 3))
        XCTAssertThrowsError(try Augmented(FloatDataset(summary: "flat", sampleShape: [4], classNames: ["a"], values: [1, 2, 3, 4], labels: [0]),
                                           Augmentation(flipProbability: 1), seed: 0))
    }
}
