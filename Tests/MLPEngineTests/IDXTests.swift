import Foundation
import XCTest
@testable import MLPEngine

/// The IDX reader and the MNIST loader: files built in the test, and the real MNIST files.
final class IDXTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mlpsh-idx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    /// An IDX file of unsigned bytes: magic 00 00 08 <rank>, each dimension big-endian, then the data.
    private func idx(_ dims: [Int], data: [UInt8]? = nil) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, 8, UInt8(dims.count)]
        for d in dims { bytes += [UInt8(d >> 24 & 0xff), UInt8(d >> 16 & 0xff), UInt8(d >> 8 & 0xff), UInt8(d & 0xff)] }
        let count = dims.reduce(1, *)
        return bytes + (data ?? (0..<count).map { UInt8($0 % 256) })
    }

    private func message(_ body: () throws -> Void) -> String {
        do { try body() } catch let e as EngineError { return e.message } catch { return "\(error)" }
        XCTFail("expected an error")
        return ""
    }

    private func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    /// Compresses `path` in place with /bin/gzip (leaving path.gz).
    private func gzip(_ path: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-f", path]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "gzip \(path)")
    }

    // MARK: - IDXArray

    func testParsesAThreeDimensionalFile() throws {
        let bytes = idx([2, 3, 4])
        let array = try IDXArray(parsing: bytes, name: "t.idx")
        XCTAssertEqual(array.dimensions, [2, 3, 4])
        XCTAssertEqual(array.bytes.count, 24)
        XCTAssertEqual(array.bytes, (0..<24).map { UInt8($0) })
        // A dimension above 255 is read big-endian.
        let wide = try IDXArray(parsing: idx([1, 300]), name: "wide")
        XCTAssertEqual(wide.dimensions, [1, 300])
        XCTAssertEqual(wide.bytes[299], UInt8(299 % 256))
    }

    func testCutShortFileIsAnError() {
        var bytes = idx([2, 3, 4])
        bytes.removeLast(5)
        let m = message { _ = try IDXArray(parsing: bytes, name: "short.idx") }
        XCTAssertTrue(m.hasPrefix("short.idx: "), m)
        XCTAssertTrue(m.contains("cut short"), m)
        XCTAssertTrue(m.contains("2x3x4"), m)
        XCTAssertTrue(m.contains("\(bytes.count)"), m)
        // Cut inside the header.
        let header = message { _ = try IDXArray(parsing: [0, 0, 8, 3, 0, 0, 0, 2], name: "h.idx") }
        XCTAssertTrue(header.contains("cut short"), header)
        // Shorter than the magic.
        XCTAssertTrue(message { _ = try IDXArray(parsing: [0, 0], name: "tiny") }.contains("tiny"))
    }

    func testWrongMagicIsAnError() {
        var bytes = idx([2, 2])
        bytes[0] = 0x1f
        bytes[1] = 0x8b
        let m = message { _ = try IDXArray(parsing: bytes, name: "bad.idx") }
        XCTAssertTrue(m.contains("magic"), m)
        XCTAssertTrue(m.contains("bad.idx"), m)
        // An unsupported data type (0x0D, float) is named as such.
        var floats = idx([2, 2])
        floats[2] = 0x0d
        let t = message { _ = try IDXArray(parsing: floats, name: "f.idx") }
        XCTAssertTrue(t.contains("0xd"), t)
        // Rank 0 and rank 9 are refused.
        XCTAssertTrue(message { _ = try IDXArray(parsing: [0, 0, 8, 0], name: "r0") }.contains("rank 0"))
    }

    func testTrailingBytesAreAnError() {
        let bytes = idx([2, 2]) + [9, 9, 9]
        let m = message { _ = try IDXArray(parsing: bytes, name: "long.idx") }
        XCTAssertTrue(m.contains("3 bytes past the end"), m)
    }

    func testReadsAGzippedFileFromDisk() throws {
        let path = try write(idx([3, 2, 2]), "images-idx3-ubyte")
        try gzip(path)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        let array = try IDXArray(path: path + ".gz")
        XCTAssertEqual(array.dimensions, [3, 2, 2])
        XCTAssertEqual(array.bytes, (0..<12).map { UInt8($0) })
        // A plain file reads the same.
        let plain = try IDXArray(path: try write(idx([3, 2, 2]), "plain"))
        XCTAssertEqual(plain.bytes, array.bytes)
    }

    func testCorruptGzipIsAnErrorNotACrash() throws {
        // The gzip magic, then garbage.
        let garbage: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3] + (0..<200).map { UInt8(($0 * 37 + 11) % 256) }
        let path = try write(garbage, "garbage.gz")
        let m = message { _ = try IDXArray(path: path) }
        XCTAssertTrue(m.contains(path), m)
        // A cut-short gzip stream.
        let good = try write(idx([40, 28, 28]), "cut")
        try gzip(good)
        let data = try Data(contentsOf: URL(fileURLWithPath: good + ".gz"))
        let cut = try write([UInt8](data.prefix(data.count / 2)), "cut-short.gz")
        let c = message { _ = try IDXArray(path: cut) }
        XCTAssertTrue(c.contains(cut), c)
        // A missing file.
        XCTAssertTrue(message { _ = try IDXArray(path: folder.appendingPathComponent("none").path) }.contains("no such file"))
    }

    // MARK: - MNISTLoader

    private func loadMNIST(_ options: [String: String]) throws -> Dataset {
        let entry = try Registries.shared.datasets.lookup("mnist")
        return try entry.make(DatasetArguments(options: try Options(options, specs: entry.options, owner: "data mnist"),
                                               random: RandomGenerator(seed: 0)))
    }

    func testImageAndLabelCountsMustAgree() throws {
        _ = try write(idx([5, 2, 2]), "train-images-idx3-ubyte")
        _ = try write(idx([4], data: [1, 2, 3, 4]), "train-labels-idx1-ubyte")
        let m = message { _ = try loadMNIST(["path": folder.path, "split": "train"]) }
        XCTAssertTrue(m.contains("5 images"), m)
        XCTAssertTrue(m.contains("4 labels"), m)
    }

    func testSmallFolderLoadsScaledTo01() throws {
        let pixels: [UInt8] = [0, 255, 51, 102, 255, 0, 0, 0, 10, 20, 30, 40]
        _ = try write(idx([3, 2, 2], data: pixels), "t10k-images-idx3-ubyte")
        let labels = try write(idx([3], data: [7, 0, 9]), "t10k-labels-idx1-ubyte")
        try gzip(labels)   // one gzipped, one plain
        let d = try loadMNIST(["path": folder.path, "split": "test"])
        XCTAssertEqual(d.count, 3)
        XCTAssertEqual(d.sampleShape, [1, 2, 2])
        XCTAssertEqual(d.classes, 10)
        var x = [Float](repeating: -1, count: 8)
        var y = [Int32](repeating: -1, count: 2)
        let order: [Int32] = [1, 0]
        order.withUnsafeBufferPointer { d.fill(indices: $0, x: &x, labels: &y) }
        XCTAssertEqual(y, [0, 7])
        XCTAssertEqual(x, [1, 0, 0, 0, 0, 1, 0.2, 0.4])
        // limit keeps the first N.
        XCTAssertEqual(try loadMNIST(["path": folder.path, "split": "test", "limit": "2"]).count, 2)
    }

    func testLabelAboveNineIsAnError() throws {
        _ = try write(idx([2, 2, 2]), "train-images-idx3-ubyte")
        _ = try write(idx([2], data: [3, 12]), "train-labels-idx1-ubyte")
        let m = message { _ = try loadMNIST(["path": folder.path]) }
        XCTAssertTrue(m.contains("label 12"), m)
    }

    func testMissingFolderPointsToFetchScript() {
        let m = message { _ = try loadMNIST(["path": "/nonexistent/mnist-\(UUID().uuidString)"]) }
        XCTAssertTrue(m.contains("scripts/fetch-mnist"), m)
        XCTAssertTrue(m.contains("/nonexistent/mnist-"), m)
        XCTAssertTrue(message { _ = try loadMNIST(["path": folder.path, "split": "validation"]) }.contains("split=validation"))
    }

    // MARK: - The real MNIST

    /// data/mnist of the package (a link to the files scripts/fetch-mnist fetches).
    static var mnistFolder: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("data/mnist").path
    }

    private func realMNIST(_ split: String) throws -> Dataset? {
        let dir = Self.mnistFolder
        let prefix = split == "train" ? "train" : "t10k"
        guard FileManager.default.fileExists(atPath: "\(dir)/\(prefix)-images-idx3-ubyte.gz")
                || FileManager.default.fileExists(atPath: "\(dir)/\(prefix)-images-idx3-ubyte") else {
            XCTFail("MNIST is missing from \(dir): run scripts/fetch-mnist")
            return nil
        }
        return try loadMNIST(["path": dir, "split": split])
    }

    private func labels(_ d: Dataset, first n: Int) -> [Int32] {
        var x = [Float](repeating: 0, count: n * d.features)
        var y = [Int32](repeating: -1, count: n)
        let order = (0..<Int32(n)).map { $0 }
        order.withUnsafeBufferPointer { d.fill(indices: $0, x: &x, labels: &y) }
        return y
    }

    func testRealMNISTTrainSplit() throws {
        guard let d = try realMNIST("train") else { return }
        XCTAssertEqual(d.count, 60000)
        XCTAssertEqual(d.sampleShape, [1, 28, 28])
        XCTAssertEqual(labels(d, first: 10), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
        // The first image's pixels sum to 27525, so its floats sum to 27525/255.
        var x = [Float](repeating: 0, count: 784)
        var y: [Int32] = [0]
        [Int32(0)].withUnsafeBufferPointer { d.fill(indices: $0, x: &x, labels: &y) }
        XCTAssertEqual(Double(x.reduce(0, +)), 27525.0 / 255, accuracy: 1e-3)
        XCTAssertEqual(x.max(), 1)
    }

    func testRealMNISTTestSplit() throws {
        guard let d = try realMNIST("test") else { return }
        XCTAssertEqual(d.count, 10000)
        XCTAssertEqual(labels(d, first: 10), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    }
}
