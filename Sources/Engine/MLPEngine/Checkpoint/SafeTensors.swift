import Foundation

/// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
/// (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, ..., "__metadata__": {...}}`,
/// padded with spaces to a multiple of 8), then the raw little-endian tensor bytes.
public struct SafeTensors {
    public struct Entry: Equatable {
        public let name: String
        public let dtype: String
        public let shape: [Int]
        /// The raw bytes, little-endian.
        public let bytes: [UInt8]

        public init(name: String, dtype: String, shape: [Int], bytes: [UInt8]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        public init(name: String, shape: [Int], floats: [Float]) {
            var b = [UInt8](repeating: 0, count: floats.count * 4)
            for (i, v) in floats.enumerated() {
                let u = v.bitPattern.littleEndian
                b[4 * i] = UInt8(u & 0xff); b[4 * i + 1] = UInt8((u >> 8) & 0xff)
                b[4 * i + 2] = UInt8((u >> 16) & 0xff); b[4 * i + 3] = UInt8(u >> 24)
            }
            self.init(name: name, dtype: "F32", shape: shape, bytes: b)
        }

        public init(name: String, shape: [Int], uint32s: [UInt32]) {
            var b = [UInt8](repeating: 0, count: uint32s.count * 4)
            for (i, u) in uint32s.enumerated() {
                b[4 * i] = UInt8(u & 0xff); b[4 * i + 1] = UInt8((u >> 8) & 0xff)
                b[4 * i + 2] = UInt8((u >> 16) & 0xff); b[4 * i + 3] = UInt8(u >> 24)
            }
            self.init(name: name, dtype: "U32", shape: shape, bytes: b)
        }

        public init(name: String, shape: [Int], int64s: [Int64]) {
            var b = [UInt8](repeating: 0, count: int64s.count * 8)
            for (i, v) in int64s.enumerated() {
                let u = UInt64(bitPattern: v)
                for k in 0..<8 { b[8 * i + k] = UInt8((u >> (8 * UInt64(k))) & 0xff) }
            }
            self.init(name: name, dtype: "I64", shape: shape, bytes: b)
        }

        /// The values as 64-bit integers (I64 only).
        public var int64s: [Int64] {
            (0..<bytes.count / 8).map { i in
                var u: UInt64 = 0
                for k in (0..<8).reversed() { u = u << 8 | UInt64(bytes[8 * i + k]) }
                return Int64(bitPattern: u)
            }
        }

        /// The values as floats (F32 only).
        public var floats: [Float] {
            (0..<bytes.count / 4).map { i in
                Float(bitPattern: UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8
                      | UInt32(bytes[4 * i + 2]) << 16 | UInt32(bytes[4 * i + 3]) << 24)
            }
        }

        public var uint32s: [UInt32] {
            (0..<bytes.count / 4).map { i in
                UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8 | UInt32(bytes[4 * i + 2]) << 16 | UInt32(bytes[4 * i + 3]) << 24
            }
        }
    }

    public var entries: [Entry]
    public var metadata: [String: String]

    public init(entries: [Entry], metadata: [String: String]) {
        self.entries = entries
        self.metadata = metadata
    }

    public func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }

    /// Bytes per element of each dtype the format defines.
    static let dtypeSizes: [String: Int] = ["F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
                                            "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1]
    /// The largest header accepted (the format's own readers use 100 MB).
    public static let maxHeaderSize = 100_000_000

    // MARK: - Writing

    public func serialized() throws -> [UInt8] {
        var header: [String: Any] = [:]
        var offset = 0
        for e in entries {
            header[e.name] = ["dtype": e.dtype, "shape": e.shape, "data_offsets": [offset, offset + e.bytes.count]] as [String: Any]
            offset += e.bytes.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        while json.count % 8 != 0 { json.append(0x20) }
        var out = [UInt8]()
        out.reserveCapacity(8 + json.count + offset)
        var n = UInt64(json.count)
        for _ in 0..<8 { out.append(UInt8(n & 0xff)); n >>= 8 }
        out += json
        for e in entries { out += e.bytes }
        return out
    }

    public func write(to path: String) throws {
        try AtomicFile.write(try serialized(), to: path)
    }

    // MARK: - Reading

    /// A file of another well-known format, recognised by its first bytes: PyTorch's
    /// `torch.save` (a zip archive, or a bare pickle in the old format), and what to do instead.
    /// `first` is the first 9 bytes (fewer in a shorter file): a safetensors file whose header
    /// length begins with the same bytes (a 640-byte header starts 80 02) has its JSON's '{' at
    /// byte 8, and is not taken for another format.
    static func otherFormat(_ first: [UInt8], name: String) -> EngineError? {
        if first.count >= 9, first[8] == UInt8(ascii: "{") { return nil }
        let howTo = "in Python, save the weights as safetensors instead: "
            + "from safetensors.torch import save_file; save_file(model.state_dict(), \"model.safetensors\")"
        if first.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            return EngineError("\(name) is a zip archive, as torch.save writes (a .pt or .pth file), not safetensors: \(howTo)")
        }
        if first.count >= 2, first[0] == 0x80, (2...5).contains(first[1]) {
            return EngineError("\(name) is a Python pickle, as torch.save writes in its old format, not safetensors: \(howTo)")
        }
        return nil
    }

    /// Parses and checks a whole file's bytes: header length, JSON, dtypes, shapes against
    /// offsets, offsets inside the data, in order and without overlap.
    public init(parsing data: [UInt8], name: String) throws {
        func fail(_ why: String) -> EngineError { EngineError("\(name): not a valid safetensors file: \(why)") }
        guard data.count >= 8 else { throw fail("only \(data.count) bytes; the header length alone needs 8") }
        if let other = Self.otherFormat(Array(data.prefix(9)), name: name) { throw other }
        var n: UInt64 = 0
        for i in (0..<8).reversed() { n = n << 8 | UInt64(data[i]) }
        guard n <= UInt64(Self.maxHeaderSize) else { throw fail("the header claims \(n) bytes, more than the limit of \(Self.maxHeaderSize)") }
        guard Int(n) <= data.count - 8 else { throw fail("the header claims \(n) bytes but the file has only \(data.count - 8) after the length") }
        let headerBytes = Data(data[8..<(8 + Int(n))])
        guard let object = try? JSONSerialization.jsonObject(with: headerBytes), let header = object as? [String: Any] else {
            throw fail("the header is not a JSON object")
        }
        let dataStart = 8 + Int(n), dataSize = data.count - dataStart
        var metadata: [String: String] = [:]
        var spans: [(Int, Int, String)] = []
        var entries: [Entry] = []
        for key in header.keys.sorted() {
            let value = header[key]!
            if key == "__metadata__" {
                guard let m = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw fail("__metadata__ value '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any] else { throw fail("tensor '\(key)' is not described by an object") }
            guard let dtype = info["dtype"] as? String else { throw fail("tensor '\(key)' has no dtype") }
            guard let size = Self.dtypeSizes[dtype] else { throw fail("tensor '\(key)' has the unknown dtype '\(dtype)'") }
            guard let shapeAny = info["shape"] as? [Any], let shape = intArray(shapeAny), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("tensor '\(key)' has no valid shape")
            }
            guard let offAny = info["data_offsets"] as? [Any], let offs = intArray(offAny), offs.count == 2 else {
                throw fail("tensor '\(key)' has no valid data_offsets")
            }
            let (begin, end) = (offs[0], offs[1])
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw fail("tensor '\(key)' has data_offsets [\(begin), \(end)] outside the \(dataSize) bytes of data")
            }
            var count = 1
            for d in shape {
                let (p, o) = count.multipliedReportingOverflow(by: d)
                guard !o, p <= Int(Int32.max) * 4 else { throw fail("tensor '\(key)' has a shape \(shape) whose size overflows") }
                count = p
            }
            guard count * size == end - begin else {
                throw fail("tensor '\(key)' has shape \(shape) (\(count * size) bytes of \(dtype)) but data_offsets span \(end - begin) bytes")
            }
            spans.append((begin, end, key))
            entries.append(Entry(name: key, dtype: dtype, shape: shape, bytes: Array(data[(dataStart + begin)..<(dataStart + end)])))
        }
        // Empty tensors take no bytes and so cannot overlap anything.
        spans = spans.filter { $0.0 < $0.1 }.sorted { $0.0 < $1.0 }
        for (a, b) in zip(spans, spans.dropFirst()) where b.0 < a.1 {
            throw fail("tensors '\(a.2)' and '\(b.2)' overlap")
        }
        self.entries = entries
        self.metadata = metadata
    }

    /// Reads the file at `path`: the header first, then only the bytes its tensors span, so a
    /// huge or endless file is refused after a few bytes instead of read whole.
    public init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            // The same messages as any other read.
            _ = try readFileBytes(path, limit: 0, inflate: false)
            throw EngineError("\(path): cannot be opened")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            _ = try readFileBytes(path, limit: 0, inflate: false)   // says what it is
            throw EngineError("\(path) is not a regular file: refused")
        }
        let size = Int(st.st_size)
        func fail(_ why: String) -> EngineError { EngineError("\(path): not a valid safetensors file: \(why)") }
        guard size >= 8 else { throw fail("only \(size) bytes; the header length alone needs 8") }
        var prefix = [UInt8](repeating: 0, count: 9)
        let got = pread(fd, &prefix, 9, 0)
        guard got >= 8 else { throw fail("the header length cannot be read") }
        if let other = Self.otherFormat(Array(prefix.prefix(got)), name: path) { throw other }
        var n: UInt64 = 0
        for i in (0..<8).reversed() { n = n << 8 | UInt64(prefix[i]) }
        guard n <= UInt64(Self.maxHeaderSize) else { throw fail("the header claims \(n) bytes, more than the limit of \(Self.maxHeaderSize)") }
        guard Int(n) <= size - 8 else { throw fail("the header claims \(n) bytes but the file has only \(size - 8) after the length") }
        var header = [UInt8](repeating: 0, count: Int(n))
        guard header.isEmpty || pread(fd, &header, Int(n), 8) == Int(n) else { throw fail("the header cannot be read") }
        // The data the header's tensors span; the parser checks the rest.
        var dataEnd = 0
        if let object = try? JSONSerialization.jsonObject(with: Data(header)) as? [String: Any] {
            for (key, value) in object where key != "__metadata__" {
                if let offsets = (value as? [String: Any])?["data_offsets"] as? [Any], let end = offsets.last as? NSNumber {
                    dataEnd = max(dataEnd, min(end.intValue, size))
                }
            }
        }
        let total = min(size, 8 + Int(n) + max(0, dataEnd))
        var bytes = [UInt8](repeating: 0, count: total)
        var done = 0
        while done < total {
            let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, total - done, off_t(done)) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { throw fail("the file cannot be read to its end") }
            done += got
        }
        try self.init(parsing: bytes, name: path)
    }
}

private func intArray(_ a: [Any]) -> [Int]? {
    var out: [Int] = []
    for v in a {
        guard let n = v as? NSNumber, String(cString: n.objCType) != "c" else { return nil }
        let d = n.doubleValue
        guard d == d.rounded(), abs(d) < 9e15 else { return nil }
        out.append(n.intValue)
    }
    return out
}
