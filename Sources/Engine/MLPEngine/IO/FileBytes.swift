import CZlib
import Foundation

/// Reads a whole file, inflating it when it is gzip-compressed (by its magic bytes, not its
/// name) unless `inflate` is false. `limit` bounds the size, checked before reading (fstat),
/// so a hostile or huge file cannot exhaust memory; anything but a regular file (a device, a
/// FIFO, a folder) is refused, and the read itself stops at the limit.
public func readFileBytes(_ path: String, limit: Int = 1 << 31, inflate: Bool = true) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else {
        let code = errno
        if code == ENOENT { throw EngineError("\(path): no such file") }
        if code == EACCES { throw EngineError("\(path): cannot be read (permission denied)") }
        throw EngineError("\(path): cannot be opened (\(String(cString: strerror(code))))")
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw EngineError("\(path): cannot be read (\(String(cString: strerror(errno))))") }
    switch st.st_mode & S_IFMT {
    case S_IFREG: break
    case S_IFDIR: throw EngineError("\(path) is a folder, not a file")
    case S_IFCHR, S_IFBLK: throw EngineError("\(path) is a device, not a regular file: refused")
    case S_IFIFO: throw EngineError("\(path) is a FIFO, not a regular file: refused")
    default: throw EngineError("\(path) is not a regular file: refused")
    }
    var head = [UInt8](repeating: 0, count: 2)
    let got = pread(fd, &head, 2, 0)
    if inflate && got == 2 && head[0] == 0x1f && head[1] == 0x8b {
        return try inflateGzipFile(path, limit: limit)
    }
    guard Int(st.st_size) <= limit else { throw EngineError("\(path): larger than \(limit) bytes (\(st.st_size))") }
    return try readCapped(fd, name: path, limit: limit, expected: Int(st.st_size))
}

/// Reads `fd` to its end, failing as soon as more than `limit` bytes came.
public func readCapped(_ fd: Int32, name: String, limit: Int, expected: Int = 0, shouldStop: () -> Bool = { false }) throws -> [UInt8] {
    var out = [UInt8]()
    out.reserveCapacity(min(expected, limit))
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR {
                // A signal: the read is given up when the caller says so.
                if shouldStop() { throw EngineError("\(name): reading was interrupted") }
                continue
            }
            throw EngineError("\(name): read failed (\(String(cString: strerror(errno))))")
        }
        if n == 0 { return out }
        guard out.count + n <= limit else { throw EngineError("\(name): larger than \(limit) bytes") }
        out.append(contentsOf: chunk[0..<n])
    }
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
