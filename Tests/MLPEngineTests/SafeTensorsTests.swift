import Foundation
import XCTest
@testable import MLPEngine

/// The safetensors reader and writer: round trips that keep every bit, the header's layout,
/// and hostile files, each refused with an EngineError that says what is wrong (never a crash,
/// never a huge allocation).
final class SafeTensorsTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mlpsh-safetensors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    // MARK: - Helpers

    /// An 8-byte little-endian length.
    private func lengthBytes(_ n: UInt64) -> [UInt8] {
        (0..<8).map { UInt8((n >> (8 * UInt64($0))) & 0xff) }
    }

    /// A file made by hand: the header length (the JSON's own unless `claimedLength`), the
    /// JSON text as given, then `data`.
    private func file(_ json: String, data: [UInt8] = [], claimedLength: UInt64? = nil) -> [UInt8] {
        let header = Array(json.utf8)
        return lengthBytes(claimedLength ?? UInt64(header.count)) + header + data
    }

    /// The EngineError message `body` throws; a failure when it throws nothing or something else.
    private func message(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            try body()
        } catch let e as EngineError {
            return e.message
        } catch {
            XCTFail("expected an EngineError, got \(type(of: error)): \(error)", file: file, line: line)
            return "\(error)"
        }
        XCTFail("expected an error", file: file, line: line)
        return ""
    }

    /// Parsing `bytes` (named "hostile.safetensors") fails with a message holding every one of `words`.
    @discardableResult
    private func expectRefused(_ bytes: [UInt8], _ words: [String], file: StaticString = #filePath, line: UInt = #line) -> String {
        let m = message({ _ = try SafeTensors(parsing: bytes, name: "hostile.safetensors") }, file: file, line: line)
        XCTAssertTrue(m.hasPrefix("hostile.safetensors: not a valid safetensors file: "), m, file: file, line: line)
        for w in words {
            XCTAssertTrue(m.contains(w), "the message lacks '\(w)': \(m)", file: file, line: line)
        }
        return m
    }

    private func bits(_ floats: [Float]) -> [UInt32] { floats.map(\.bitPattern) }

    /// Floats that a careless writer or reader would change: NaNs with payloads (quiet and
    /// signalling, both signs), -0.0, denormals, infinities, extremes.
    private let awkwardFloats: [Float] = [
        Float(bitPattern: 0x7fc0_0001), Float(bitPattern: 0xffc1_2345), Float(bitPattern: 0x7f80_0001),
        Float(bitPattern: 0xffbf_ffff), -0.0, 0.0, Float(bitPattern: 1), Float(bitPattern: 0x8000_0001),
        Float(bitPattern: 0x007f_ffff), .leastNormalMagnitude, -.leastNonzeroMagnitude, .infinity, -.infinity,
        .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1, -1, 0.1, .pi, 1e-30,
    ]

    private func sample() -> SafeTensors {
        SafeTensors(entries: [
            SafeTensors.Entry(name: "0.weight", shape: [4, 5], floats: awkwardFloats),
            SafeTensors.Entry(name: "0.bias", shape: [4], floats: [Float(bitPattern: 0x7fc0_dead), -0.0, Float(bitPattern: 3), -7.5]),
            SafeTensors.Entry(name: "mlpsh.random_state", shape: [3], uint32s: [0, 0xffff_ffff, 0x8000_0001]),
            // An odd number of bytes, so the data after it does not end on a multiple of 4.
            SafeTensors.Entry(name: "raw", dtype: "U8", shape: [3], bytes: [0xff, 0x00, 0x7f]),
            SafeTensors.Entry(name: "empty", shape: [0], floats: []),
        ], metadata: [
            "format": "pt",
            "mlpsh.model": "linear 5 4\nrelu",
            "quotes \"and\" \\backslashes/": "tab\tnewline\n unicode é ✓ \u{1F600} nul\u{0}end",
            "mlpsh.history": "[{\"epoch\":0,\"train_loss\":2.5}]",
            "": "empty key",
            "empty value": "",
        ])
    }

    /// The header's JSON object of a serialized file.
    private func headerObject(_ bytes: [UInt8]) throws -> [String: Any] {
        var n = 0
        for i in (0..<8).reversed() { n = n << 8 | Int(bytes[i]) }
        let object = try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)]))
        return try XCTUnwrap(object as? [String: Any])
    }

    // MARK: - Round trips

    func testRoundTripKeepsEveryBitAndTheMetadata() throws {
        let original = sample()
        let bytes = try original.serialized()
        let parsed = try SafeTensors(parsing: bytes, name: "t.safetensors")
        XCTAssertEqual(Set(parsed.entries.map(\.name)), Set(original.entries.map(\.name)))
        XCTAssertEqual(parsed.entries.count, original.entries.count)
        for e in original.entries {
            let p = try XCTUnwrap(parsed.entry(e.name), e.name)
            XCTAssertEqual(p.dtype, e.dtype, e.name)
            XCTAssertEqual(p.shape, e.shape, e.name)
            XCTAssertEqual(p.bytes, e.bytes, "the bytes of \(e.name)")
        }
        XCTAssertEqual(bits(try XCTUnwrap(parsed.entry("0.weight")).floats), bits(awkwardFloats))
        XCTAssertEqual(bits(try XCTUnwrap(parsed.entry("0.bias")).floats),
                       [0x7fc0_dead, 0x8000_0000, 3, (-7.5 as Float).bitPattern])
        XCTAssertEqual(try XCTUnwrap(parsed.entry("mlpsh.random_state")).uint32s, [0, 0xffff_ffff, 0x8000_0001])
        XCTAssertEqual(parsed.metadata, original.metadata)
        // Serializing what was parsed gives the same file again.
        XCTAssertEqual(try SafeTensors(entries: original.entries, metadata: parsed.metadata).serialized(), bytes)
    }

    /// A PyTorch file (torch.save: a zip archive, or an old-format pickle) is named as such,
    /// with the one line of Python that writes safetensors instead.
    func testPyTorchFilesAreRecognisedWithWhatToDo() throws {
        for (file, first, what) in [("model.pt", [0x50, 0x4B, 0x03, 0x04] as [UInt8], "zip archive"), ("old.pt", [0x80, 0x02], "pickle")] {
            let path = folder.appendingPathComponent(file).path
            try Data(first + [UInt8](repeating: 0x41, count: 600)).write(to: URL(fileURLWithPath: path))
            for m in [message { _ = try SafeTensors(path: path) },
                      message { _ = try SafeTensors(parsing: first + [UInt8](repeating: 0x41, count: 600), name: path) }] {
                XCTAssertTrue(m.contains(path) && m.contains(what) && m.contains("torch.save"), m)
                XCTAssertTrue(m.contains("save_file(model.state_dict()"), m)
                XCTAssertFalse(m.contains("header claims"), m)
            }
        }
    }

    func testRoundTripThroughAFile() throws {
        let path = folder.appendingPathComponent("t.safetensors").path
        try sample().write(to: path)
        let back = try SafeTensors(path: path)
        XCTAssertEqual(bits(try XCTUnwrap(back.entry("0.weight")).floats), bits(awkwardFloats))
        XCTAssertEqual(back.metadata, sample().metadata)
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), try sample().serialized())
        // A missing file is an error that names it.
        let missing = folder.appendingPathComponent("missing.safetensors").path
        let m = message { _ = try SafeTensors(path: missing) }
        XCTAssertTrue(m.contains(missing) && m.contains("no such file"), m)
    }

    func testHeaderIsPaddedToAMultipleOfEightAndOffsetsAreContiguous() throws {
        // Several name lengths, so that the JSON's own length takes every remainder mod 8.
        var remainders = Set<Int>()
        for extra in 0..<12 {
            let st = SafeTensors(entries: [SafeTensors.Entry(name: "w" + String(repeating: "x", count: extra), shape: [3], floats: [1, 2, 3]),
                                           SafeTensors.Entry(name: "b", dtype: "U8", shape: [1], bytes: [9])],
                                 metadata: extra % 2 == 0 ? [:] : ["k": String(repeating: "v", count: extra)])
            let bytes = try st.serialized()
            var n = 0
            for i in (0..<8).reversed() { n = n << 8 | Int(bytes[i]) }
            XCTAssertEqual(n % 8, 0, "header length \(n) for extra=\(extra)")
            XCTAssertEqual(bytes.count, 8 + n + 13, "the data follows the header directly")
            let json = bytes[8..<(8 + n)]
            XCTAssertEqual(json.first, UInt8(ascii: "{"))
            let trimmed = json.reversed().drop { $0 == 0x20 }
            XCTAssertEqual(trimmed.first, UInt8(ascii: "}"), "the padding is spaces after the JSON")
            remainders.insert(json.count - trimmed.count)
            // The offsets tile the data in order, as the format's own readers require.
            let header = try headerObject(bytes)
            let spans = try header.filter { $0.key != "__metadata__" }.map { _, v -> [Int] in
                try XCTUnwrap(((v as? [String: Any])?["data_offsets"] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue })
            }.sorted { $0[0] < $1[0] }
            XCTAssertEqual(spans.first?[0], 0)
            XCTAssertEqual(spans.last?[1], 13)
            for (a, b) in zip(spans, spans.dropFirst()) { XCTAssertEqual(a[1], b[0]) }
            XCTAssertEqual(header["__metadata__"] == nil, extra % 2 == 0, "no __metadata__ when there is none")
        }
        XCTAssertGreaterThan(remainders.count, 3, "padding was exercised for several lengths: \(remainders)")
    }

    func testAnEmptyFileOfTensorsRoundTrips() throws {
        let bytes = try SafeTensors(entries: [], metadata: [:]).serialized()
        XCTAssertEqual(bytes.count, 16)   // "{}" padded to 8
        let back = try SafeTensors(parsing: bytes, name: "e")
        XCTAssertTrue(back.entries.isEmpty)
        XCTAssertTrue(back.metadata.isEmpty)
    }

    /// A file written the way the Python package writes it (offsets ordered by dtype then
    /// name, no metadata, a header padded with spaces) parses.
    func testAHandWrittenFileInTheReferenceLayoutParses() throws {
        let json = #"{"a.bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[8,16]}}"#
        var header = Array(json.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        let data = SafeTensors.Entry(name: "x", shape: [4], floats: [1, -2, 0.5, -0.0]).bytes
        let st = try SafeTensors(parsing: lengthBytes(UInt64(header.count)) + header + data, name: "ref")
        XCTAssertEqual(try XCTUnwrap(st.entry("a.bias")).floats, [1, -2])
        XCTAssertEqual(bits(try XCTUnwrap(st.entry("a.weight")).floats), bits([0.5, -0.0]))
        XCTAssertEqual(try XCTUnwrap(st.entry("a.weight")).shape, [1, 2])
    }

    /// A zero-element tensor occupies no bytes, so it may share its offset with the tensor
    /// after it: the Python package writes such files (it orders by dtype, then name, so an
    /// empty F64 'z' is placed at [0, 0] before an F32 'a' at [0, 8]). That is not an overlap.
    func testAnEmptyTensorSharingAnOffsetIsNotAnOverlap() throws {
        // The header exactly as safetensors.numpy.save_file({"a": float32 [1, 2], "z": float64 []}) writes it.
        let json = #"{"z":{"dtype":"F64","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}     "#
        let data = SafeTensors.Entry(name: "a", shape: [2], floats: [1, 2]).bytes
        do {
            let st = try SafeTensors(parsing: file(json, data: data), name: "empty-first.safetensors")
            XCTAssertEqual(try XCTUnwrap(st.entry("a")).floats, [1, 2])
            XCTAssertEqual(try XCTUnwrap(st.entry("z")).shape, [0])
        } catch {
            XCTFail("a valid file with an empty tensor at the same offset was refused: \(error)")
        }
    }

    // MARK: - Hostile files

    func testFewerThanEightBytes() {
        expectRefused([], ["only 0 bytes", "8"])
        expectRefused([1, 2, 3], ["only 3 bytes", "header length", "8"])
        expectRefused([0, 0, 0, 0, 0, 0, 0], ["only 7 bytes"])
    }

    func testHeaderLengthLargerThanTheFile() {
        expectRefused(file("{}", claimedLength: 1000), ["claims 1000 bytes", "only 2"])
        expectRefused(lengthBytes(9), ["claims 9 bytes", "only 0"])
        // One byte past the end.
        let json = "{}      "
        expectRefused(file(json, claimedLength: 9), ["claims 9 bytes", "only 8"])
    }

    func testHeaderLengthBeyondTheLimitIsRefusedWithoutAllocating() {
        // 2^62 and the largest UInt64 (which as an Int would be negative): refused by the
        // size check before anything is allocated or converted.
        for claimed: UInt64 in [1 << 62, UInt64.max, UInt64(Int.max), UInt64(SafeTensors.maxHeaderSize) + 1] {
            let m = expectRefused(file("{}", claimedLength: claimed), ["claims \(claimed) bytes", "limit", "\(SafeTensors.maxHeaderSize)"])
            XCTAssertFalse(m.isEmpty)
        }
    }

    func testInvalidJSON() {
        expectRefused(file("{not json"), ["not a JSON object"])
        expectRefused(file(#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}"#, data: [0, 0, 0, 0]), ["not a JSON object"])
        expectRefused(file(""), ["not a JSON object"])
        // Bytes that are not UTF-8.
        expectRefused(lengthBytes(4) + [0xff, 0xfe, 0x7b, 0x7d], ["not a JSON object"])
        // Nesting deep enough to exhaust a recursive parser's stack.
        let deep = "{\"a\":" + String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000) + "}"
        expectRefused(file(deep), ["hostile.safetensors"])
    }

    func testJSONThatIsNotAnObject() {
        expectRefused(file("[1, 2, 3]"), ["not a JSON object"])
        expectRefused(file("\"a string\""), ["not a JSON object"])
        expectRefused(file("42      "), ["not a JSON object"])
        expectRefused(file("null    "), ["not a JSON object"])
        // An object, but a tensor described by something else.
        expectRefused(file(#"{"a": [0, 4]}"#, data: [0, 0, 0, 0]), ["tensor 'a'", "not described by an object"])
        expectRefused(file(#"{"__metadata__": ["x"]}"#), ["__metadata__", "not an object"])
    }

    func testDataOffsetsOutsideTheData() {
        let m = expectRefused(file(#"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"#, data: [0, 0, 0, 0]),
                              ["tensor 'a'", "data_offsets [0, 8]", "outside", "4 bytes"])
        XCTAssertFalse(m.isEmpty)
        expectRefused(file(#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}"#, data: [0, 0, 0, 0]),
                      ["tensor 'a'", "outside"])
        expectRefused(file(#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}}"#, data: [UInt8](repeating: 0, count: 8)),
                      ["tensor 'a'", "[8, 4]"])
        expectRefused(file(#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [9223372036854775000, 9223372036854775004]}}"#, data: [0, 0, 0, 0]),
                      ["tensor 'a'"])
        // Not two whole numbers.
        expectRefused(file(#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}"#, data: [0, 0, 0, 0]),
                      ["tensor 'a'", "data_offsets"])
        expectRefused(file(#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4.5]}}"#, data: [0, 0, 0, 0, 0]),
                      ["tensor 'a'", "data_offsets"])
        expectRefused(file(#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": "0-4"}}"#, data: [0, 0, 0, 0]),
                      ["tensor 'a'", "data_offsets"])
        expectRefused(file(#"{"a": {"dtype": "F32", "shape": [1]}}"#, data: [0, 0, 0, 0]),
                      ["tensor 'a'", "data_offsets"])
    }

    func testOverlappingTensors() {
        let json = #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#
        expectRefused(file(json, data: [UInt8](repeating: 0, count: 12)), ["'a'", "'b'", "overlap"])
        // The same bytes twice.
        let same = #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "U8", "shape": [8], "data_offsets": [0, 8]}}"#
        expectRefused(file(same, data: [UInt8](repeating: 0, count: 8)), ["'a'", "'b'", "overlap"])
        // Listed out of order in the JSON: still found.
        let reversed = #"{"z": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#
        expectRefused(file(reversed, data: [UInt8](repeating: 0, count: 8)), ["'a'", "'z'", "overlap"])
    }

    func testShapeWhoseSizeOverflows() {
        let big = 1 << 40
        expectRefused(file(#"{"a": {"dtype": "F32", "shape": [\#(big), \#(big)], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]),
                      ["tensor 'a'", "overflows"])
        // The product fits an Int but its size in bytes does not.
        expectRefused(file(#"{"a": {"dtype": "F64", "shape": [\#(1 << 31), \#(1 << 31)], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]),
                      ["tensor 'a'"])
        expectRefused(file(#"{"a": {"dtype": "F32", "shape": [\#(Int.max)], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]),
                      ["tensor 'a'"])
        // Negative, fractional, huge, boolean or missing dimensions.
        for shape in ["[-1]", "[-4, -1]", "[1.5]", "[1e300]", "[18446744073709551616]", "[true]", "[\"4\"]", "4", "null"] {
            expectRefused(file(#"{"a": {"dtype": "F32", "shape": \#(shape), "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]),
                          ["tensor 'a'", "shape"])
        }
        expectRefused(file(#"{"a": {"dtype": "F32", "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]), ["tensor 'a'", "shape"])
    }

    func testShapeThatDisagreesWithTheOffsets() {
        expectRefused(file(#"{"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}"#, data: [UInt8](repeating: 0, count: 8)),
                      ["tensor 'a'", "[3]", "12 bytes", "F32", "8 bytes"])
        expectRefused(file(#"{"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 20]}}"#, data: [UInt8](repeating: 0, count: 20)),
                      ["tensor 'w'", "[2, 2]", "16 bytes", "20 bytes"])
        // A dtype's size counts: 4 elements of F16 are 8 bytes, not 16.
        expectRefused(file(#"{"h": {"dtype": "F16", "shape": [4], "data_offsets": [0, 16]}}"#, data: [UInt8](repeating: 0, count: 16)),
                      ["tensor 'h'", "8 bytes", "16 bytes"])
        // A scalar (shape []) is one element.
        XCTAssertNoThrow(try SafeTensors(parsing: file(#"{"s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}}"#, data: [0, 0, 0x80, 0x3f]), name: "scalar"))
    }

    func testUnknownDtype() {
        expectRefused(file(#"{"a": {"dtype": "F13", "shape": [1], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]),
                      ["tensor 'a'", "unknown dtype 'F13'"])
        expectRefused(file(#"{"a": {"dtype": "f32", "shape": [1], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]),
                      ["unknown dtype 'f32'"])
        expectRefused(file(#"{"a": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]),
                      ["tensor 'a'", "dtype"])
        expectRefused(file(#"{"a": {"shape": [1], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]),
                      ["tensor 'a'", "dtype"])
    }

    func testMetadataValueThatIsNotAString() {
        expectRefused(file(#"{"__metadata__": {"format": "pt", "epochs": 3}}"#), ["__metadata__", "'epochs'", "not a string"])
        expectRefused(file(#"{"__metadata__": {"k": null}}"#), ["'k'", "not a string"])
        expectRefused(file(#"{"__metadata__": {"k": {"nested": "x"}}}"#), ["'k'", "not a string"])
        expectRefused(file(#"{"__metadata__": "text"}"#), ["__metadata__", "not an object"])
    }

    func testCutShortFile() throws {
        let whole = try sample().serialized()
        var n = 0
        for i in (0..<8).reversed() { n = n << 8 | Int(whole[i]) }
        let dataSize = whole.count - 8 - n
        // Every cut inside the data is refused, naming the bytes that are there.
        for missing in [1, 3, 4, dataSize / 2, dataSize - 1] {
            let cut = Array(whole.dropLast(missing))
            expectRefused(cut, ["outside", "\(dataSize - missing) bytes of data"])
        }
        // Cut inside the header.
        expectRefused(Array(whole.prefix(8 + n / 2)), ["claims \(n) bytes", "only \(n / 2)"])
        // Cut inside the length.
        expectRefused(Array(whole.prefix(5)), ["only 5 bytes"])
        // And every prefix of a small file is refused or parses; none crashes.
        let small = try SafeTensors(entries: [SafeTensors.Entry(name: "w", shape: [2], floats: [1, 2])], metadata: ["k": "v"]).serialized()
        for length in 0..<small.count {
            XCTAssertThrowsError(try SafeTensors(parsing: Array(small.prefix(length)), name: "p"), "prefix \(length)")
        }
        XCTAssertNoThrow(try SafeTensors(parsing: small, name: "p"))
    }

    /// Random corruptions of a valid file: each parses or throws an EngineError; none crashes.
    func testCorruptedBytesNeverCrash() throws {
        let whole = try sample().serialized()
        var state: UInt64 = 0x9e37_79b9_7f4a_7c15
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        for _ in 0..<2000 {
            var bytes = whole
            for _ in 0..<(1 + next() % 4) {
                let i = next() % bytes.count
                bytes[i] = UInt8(next() % 256)
            }
            do {
                _ = try SafeTensors(parsing: bytes, name: "fuzz")
            } catch is EngineError {
            } catch {
                XCTFail("not an EngineError: \(error)")
            }
        }
    }
}
