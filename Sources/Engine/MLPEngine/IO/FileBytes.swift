import CZlib
import Foundation

/// Reads a whole file, inflating it when it is gzip-compressed (by its magic bytes, not its
/// name) unless `inflate` is false. `limit` bounds the size, checked before reading (fstat),
/// so a hostile or huge file cannot exhaust memory; anything but a regular file (a device, a
/// FIFO, a folder) is refused, and the read itself stops at the limit.
public func readFileBytes(_ path: String, limit: Int = 1 << 31, inflate: Bool = true) throws -> [UInt8] {
    let (fd, st) = try openRegularFile(path)
    defer { close(fd) }
    if inflate && isGzip(fd) {
        var out = [UInt8]()
        try forEachChunk(ofFile: path, limit: limit) { out.append(contentsOf: $0); return true }
        return out
    }
    guard Int(st.st_size) <= limit else { throw EngineError("\(path): larger than \(limit) bytes (\(st.st_size))") }
    return try readCapped(fd, name: path, limit: limit, expected: Int(st.st_size))
}

/// Hands a file's bytes to `body` a chunk (at most 1 MiB) at a time, inflated when it is
/// gzip-compressed, so that a reader that keeps less than it reads never holds the file
/// whole; `body` returns false to stop early. The same checks as readFileBytes: a regular
/// file only, and at most `limit` bytes (inflated).
public func forEachChunk(ofFile path: String, limit: Int = 1 << 31, _ body: (UnsafeRawBufferPointer) throws -> Bool) throws {
    let (fd, st) = try openRegularFile(path)
    defer { close(fd) }
    var total = 0
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    if isGzip(fd) {
        guard let gz = gzopen(path, "rb") else { throw EngineError("\(path): cannot be opened") }
        defer { gzclose(gz) }
        while true {
            let n = Int(chunk.withUnsafeMutableBytes { gzread(gz, $0.baseAddress, UInt32($0.count)) })
            if n < 0 {
                var code: Int32 = 0
                let message = gzerror(gz, &code).map { String(cString: $0) } ?? "error"
                throw EngineError("\(path): corrupt gzip data (\(message))")
            }
            if n == 0 { break }
            total += n
            guard total <= limit else { throw EngineError("\(path): inflates to more than \(limit) bytes") }
            guard try chunk.withUnsafeBytes({ try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }) else { return }
        }
        var code: Int32 = 0
        _ = gzerror(gz, &code)
        if code != Z_OK && code != Z_STREAM_END { throw EngineError("\(path): corrupt or cut-short gzip data") }
        return
    }
    guard Int(st.st_size) <= limit else { throw EngineError("\(path): larger than \(limit) bytes (\(st.st_size))") }
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw EngineError("\(path): read failed (\(String(cString: strerror(errno))))")
        }
        if n == 0 { return }
        total += n
        guard total <= limit else { throw EngineError("\(path): larger than \(limit) bytes") }
        guard try chunk.withUnsafeBytes({ try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }) else { return }
    }
}

/// Opens `path` for reading if it is a regular file (never blocking on a FIFO), or says
/// what it is instead.
private func openRegularFile(_ path: String) throws -> (Int32, stat) {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else {
        let code = errno
        if code == ENOENT { throw EngineError("\(path): no such file") }
        if code == EACCES { throw EngineError("\(path): cannot be read (permission denied)") }
        throw EngineError("\(path): cannot be opened (\(String(cString: strerror(code))))")
    }
    var st = stat()
    guard fstat(fd, &st) == 0 else {
        let code = errno
        close(fd)
        throw EngineError("\(path): cannot be read (\(String(cString: strerror(code))))")
    }
    let kind = st.st_mode & S_IFMT
    guard kind == S_IFREG else {
        close(fd)
        switch kind {
        case S_IFDIR: throw EngineError("\(path) is a folder, not a file")
        case S_IFCHR, S_IFBLK: throw EngineError("\(path) is a device, not a regular file: refused")
        case S_IFIFO: throw EngineError("\(path) is a FIFO, not a regular file: refused")
        default: throw EngineError("\(path) is not a regular file: refused")
        }
    }
    return (fd, st)
}

/// Whether the file starts with gzip's magic bytes.
private func isGzip(_ fd: Int32) -> Bool {
    var head = [UInt8](repeating: 0, count: 2)
    return pread(fd, &head, 2, 0) == 2 && head[0] == 0x1f && head[1] == 0x8b
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

/// `length` bytes of the regular file `path` from `offset`: an error when the file is not a
/// regular file or does not hold them.
public func readFileRange(_ path: String, offset: Int, length: Int) throws -> [UInt8] {
    let (fd, st) = try openRegularFile(path)
    defer { close(fd) }
    let (end, overflow) = offset.addingReportingOverflow(length)
    guard offset >= 0, length >= 0, !overflow, end <= Int(st.st_size) else {
        throw EngineError("\(path): holds \(st.st_size) bytes, not \(length) from offset \(offset)")
    }
    var out = [UInt8](repeating: 0, count: length)
    var done = 0
    while done < length {
        let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, length - done, off_t(offset + done)) }
        guard n > 0 else { throw EngineError("\(path): cannot be read") }
        done += n
    }
    return out
}
