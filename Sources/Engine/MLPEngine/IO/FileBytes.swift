import CZlib
import Foundation

/// Reads a whole file, inflating it when it is gzip-compressed (by its magic bytes, not its
/// name) unless `inflate` is false. `limit` bounds the size, so a hostile file cannot exhaust memory.
public func readFileBytes(_ path: String, limit: Int = 1 << 31, inflate: Bool = true) throws -> [UInt8] {
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
        throw EngineError("\(path) is a folder, not a file")
    }
    guard let handle = FileHandle(forReadingAtPath: path) else {
        if !FileManager.default.fileExists(atPath: path) { throw EngineError("\(path): no such file") }
        throw EngineError("\(path): cannot be read (permission denied?)")
    }
    defer { try? handle.close() }
    let head = (try? handle.read(upToCount: 2)).flatMap { $0 } ?? Data()
    if inflate && head.count == 2 && head[head.startIndex] == 0x1f && head[head.startIndex + 1] == 0x8b {
        return try inflateGzipFile(path, limit: limit)
    }
    try handle.seek(toOffset: 0)
    let data = (try? handle.readToEnd()).flatMap { $0 } ?? Data()
    guard data.count <= limit else { throw EngineError("\(path): larger than \(limit) bytes") }
    return [UInt8](data)
}

private func inflateGzipFile(_ path: String, limit: Int) throws -> [UInt8] {
    guard let gz = gzopen(path, "rb") else { throw EngineError("\(path): cannot be opened") }
    defer { gzclose(gz) }
    gzbuffer(gz, 1 << 17)
    var out = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = chunk.withUnsafeMutableBytes { gzread(gz, $0.baseAddress, UInt32($0.count)) }
        if n < 0 {
            var code: Int32 = 0
            let msg = gzerror(gz, &code).map { String(cString: $0) } ?? "error"
            throw EngineError("\(path): corrupt gzip data (\(msg))")
        }
        if n == 0 { break }
        guard out.count + Int(n) <= limit else { throw EngineError("\(path): inflates to more than \(limit) bytes") }
        out.append(contentsOf: chunk[0..<Int(n)])
    }
    // gzread stops quietly at a cut-short stream; gzclose/gzerror tell.
    var code: Int32 = 0
    _ = gzerror(gz, &code)
    if code != Z_OK && code != Z_STREAM_END {
        throw EngineError("\(path): corrupt or cut-short gzip data")
    }
    return out
}
