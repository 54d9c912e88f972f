import XCTest
@testable import MLPEngine

final class GreyImageTests: XCTestCase {
    private let ramp = GreyImage(width: 4, height: 2, pixels: [0, 10, 20, 30, 200, 210, 220, 255])

    func testPNGRoundTripIsExact() throws {
        let png = try ramp.pngData()
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        XCTAssertEqual(try GreyImage.decodePNG(png), ramp)
    }

    func testPlainAndBinaryPGMAndSixteenBits() throws {
        let plain = Array("P2\n# comment\n4 2\n255\n0 10 20 30\n200 210 220 255\n".utf8)
        XCTAssertEqual(try GreyImage.decodePGM(plain), ramp)
        XCTAssertEqual(try GreyImage.decodePGM(Array("P5 4 2 255\n".utf8) + ramp.pixels), ramp)
        let sixteen = Array("P5 2 1 65535\n".utf8) + [0xFF, 0xFF, 0x80, 0x00]
        XCTAssertEqual(try GreyImage.decodePGM(sixteen).pixels, [255, 128])
    }

    func testBadImagesAreRefused() {
        XCTAssertThrowsError(try GreyImage.decodePGM(Array("P5 4 2 255\n".utf8) + [1, 2])) {
            XCTAssertTrue("\($0)".contains("cut short"), "\($0)")
        }
        XCTAssertThrowsError(try GreyImage.decodePGM(Array("P5 100000 100000 255\n".utf8))) {
            XCTAssertTrue("\($0)".contains("larger than"), "\($0)")
        }
        XCTAssertThrowsError(try GreyImage.decodePGM(Array("P2 2 1 0\n0 0".utf8)))
        XCTAssertThrowsError(try GreyImage.decodePGM(Array("P2 x".utf8)))
        // Found by the fuzzer: too short to hold the magic.
        XCTAssertThrowsError(try GreyImage.decodePGM([]))
        XCTAssertThrowsError(try GreyImage.decodePGM(Array("P".utf8)))
        XCTAssertThrowsError(try GreyImage.decodePGM(Array("P7 1 1 255\n0".utf8)))
        var png = try! ramp.pngData()
        png.removeLast(20)
        XCTAssertThrowsError(try GreyImage.decodePNG(png))
        XCTAssertThrowsError(try GreyImage.decodePNG([0x89, 0x50, 0x4E, 0x47, 0, 0]))
    }

    func testResizeAveragesAreasAndMNISTLikeInverts() {
        let big = GreyImage(width: 4, height: 4, pixels: [0, 0, 100, 100,
                                                           0, 0, 100, 100,
                                                           50, 50, 255, 255,
                                                           50, 50, 255, 251])
        XCTAssertEqual(big.resized(width: 2, height: 2).pixels, [0, 100, 50, 254])
        XCTAssertEqual(ramp.resized(width: 4, height: 2), ramp)
        let up = GreyImage(width: 1, height: 1, pixels: [77]).resized(width: 3, height: 3)
        XCTAssertEqual(up.pixels, [UInt8](repeating: 77, count: 9))
        // Dark ink on white paper becomes light ink on black.
        let paper = GreyImage(width: 3, height: 3, pixels: [255, 255, 255, 255, 0, 255, 255, 255, 255])
        XCTAssertTrue(paper.isDarkOnLight)
        XCTAssertEqual(paper.mnistLike(width: 3, height: 3).pixels, [0, 0, 0, 0, 255, 0, 0, 0, 0])
        XCTAssertFalse(paper.inverted.isDarkOnLight)
    }

    /// A ground that darkens across the image loses its slope, a stroke on it stays, and
    /// Otsu's threshold splits two clusters between them.
    func testAnUnevenGroundIsFlattened() {
        let w = 64, h = 48
        var pixels = [UInt8](repeating: 0, count: w * h)
        for y in 0..<h { for x in 0..<w { pixels[y * w + x] = UInt8(20 + x * 100 / w) } }   // 20 ... 118
        for y in 10..<38 { for x in 30..<34 { pixels[y * w + x] = 250 } }                  // a stroke
        let flat = GreyImage(width: w, height: h, pixels: pixels).groundFlattened
        for y in 0..<h { for x in 0..<w where !(10..<38).contains(y) || !(30..<34).contains(x) {
            XCTAssertLessThan(flat.pixels[y * w + x], 12, "ground at \(x),\(y)")
        } }
        for y in 12..<36 { XCTAssertGreaterThan(flat.pixels[y * w + 31], 150) }
        XCTAssertEqual(GreyImage.otsuThreshold([10, 11, 12, 10, 200, 210, 205]), 105)   // the middle of 12 ... 199
    }
}
