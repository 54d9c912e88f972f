/// The IDX format of the MNIST files: a big-endian u32 magic 0x000008TD (T = 0x08, unsigned
/// bytes; D = number of dimensions), one big-endian u32 per dimension, then the data.
public struct IDXArray {
    public let dimensions: [Int]
    public let bytes: [UInt8]

    /// Parses IDX bytes; `name` names the file in errors. Only unsigned-byte data is read.
    public init(parsing data: [UInt8], name: String) throws {
        guard data.count >= 4 else {
            throw EngineError("\(name): not an IDX file (only \(data.count) bytes; the header needs at least 4)")
        }
        guard data[0] == 0, data[1] == 0 else {
            throw EngineError("\(name): not an IDX file (bad magic \(hex(data, 4)); expected 00 00 08 0N)")
        }
        guard data[2] == 0x08 else {
            throw EngineError("\(name): IDX data type 0x\(String(data[2], radix: 16)) is not supported (expected 0x08, unsigned bytes)")
        }
        let rank = Int(data[3])
        guard (1...4).contains(rank) else {
            throw EngineError("\(name): IDX rank \(rank) is not supported (expected 1 to 4 dimensions)")
        }
        let headerSize = 4 + 4 * rank
        guard data.count >= headerSize else {
            throw EngineError("\(name): cut short in the header (\(data.count) bytes; expected \(headerSize))")
        }
        var dims: [Int] = []
        var total = 1
        for d in 0..<rank {
            let o = 4 + 4 * d
            let v = Int(data[o]) << 24 | Int(data[o + 1]) << 16 | Int(data[o + 2]) << 8 | Int(data[o + 3])
            dims.append(v)
            let (product, overflow) = total.multipliedReportingOverflow(by: v)
            guard !overflow, product <= Int(Int32.max) * 4 else {
                throw EngineError("\(name): dimensions \(dims.map(String.init).joined(separator: "x")) are implausibly large")
            }
            total = product
        }
        let expected = headerSize + total
        guard data.count >= expected else {
            throw EngineError("\(name): cut short: dimensions \(dims.map(String.init).joined(separator: "x")) need \(expected) bytes, the file has \(data.count)")
        }
        guard data.count == expected else {
            throw EngineError("\(name): \(data.count - expected) bytes past the end of the data")
        }
        dimensions = dims
        bytes = Array(data[headerSize...])
    }

    /// Reads and parses an IDX file, plain or gzipped.
    public init(path: String) throws {
        try self.init(parsing: try readFileBytes(path), name: path)
    }
}

private func hex(_ d: [UInt8], _ n: Int) -> String {
    d.prefix(n).map { String(format2($0)) }.joined(separator: " ")
}
private func format2(_ b: UInt8) -> String {
    let s = String(b, radix: 16)
    return s.count == 1 ? "0" + s : s
}
