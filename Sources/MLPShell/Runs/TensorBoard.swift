import Foundation
import MLPEngine
import SwiftProtobuf

/// TensorBoard's event files, written as its own writer writes them: a file
/// `events.out.tfevents.<seconds>.<host>` of TFRecords (a little-endian length, its masked
/// CRC-32C, the bytes, their masked CRC-32C), each an `Event` protocol buffer: first the file
/// version, then one event a step holding a `Summary` of scalar values (tensorboard.pb.swift,
/// generated from proto/tensorboard.proto).
final class TensorBoardWriter {
    let path: String
    private let fd: Int32

    /// Opens a new events file in `folder` (made if missing), for the option `tensorboard=`
    /// that names `option` in errors. Only a regular file is written: a FIFO, a device or a
    /// link at the file's (predictable) name is refused, never waited on.
    init(folder: String, option: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw EngineError("tensorboard=\(option): cannot make the folder \(folder): \(Self.obstacle(in: folder) ?? "\(error)")")
        }
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        path = folder + "/events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host).\(getpid())"
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
        guard fd >= 0 else { throw EngineError("tensorboard=\(option): cannot write \(path) (\(String(cString: strerror(errno))))") }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw EngineError("tensorboard=\(option): \(path) is not a regular file: refused")
        }
        _ = fcntl(fd, F_SETFL, O_WRONLY | O_APPEND)
        var event = Tensorboard_Event()
        event.wallTime = Date().timeIntervalSince1970
        event.fileVersion = "brain.Event:2"
        try write(record: Array(try event.serializedData()))
    }

    deinit { close(fd) }

    /// The first part of `path` that stands in the way of making it a folder: a file, a FIFO,
    /// a device or a link to nothing.
    static func obstacle(in path: String) -> String? {
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            prefix += "/" + part
            var st = stat()
            guard lstat(prefix, &st) == 0 else { return nil }   // missing: it can be made
            switch st.st_mode & S_IFMT {
            case S_IFDIR: continue
            case S_IFLNK:
                var target = stat()
                if stat(prefix, &target) != 0 { return "\(prefix) is a link to nothing" }
                if (target.st_mode & S_IFMT) == S_IFDIR { continue }
                return "\(prefix) is a link to something that is not a folder"
            case S_IFIFO: return "\(prefix) is a FIFO, not a folder"
            case S_IFCHR, S_IFBLK: return "\(prefix) is a device, not a folder"
            default: return "\(prefix) is a file, not a folder"
            }
        }
        return nil
    }

    /// One step's scalars ("loss/train" ...), as tf.summary.scalar writes them.
    func scalars(step: Int, _ values: [(tag: String, value: Float)]) throws {
        var summary = Tensorboard_Summary()
        summary.value = values.map { tag, value in
            var v = Tensorboard_Summary.Value()
            v.tag = tag
            v.simpleValue = value
            return v
        }
        var event = Tensorboard_Event()
        event.wallTime = Date().timeIntervalSince1970
        event.step = Int64(step)
        event.summary = summary
        try write(record: Array(try event.serializedData()))
    }

    private func write(record data: [UInt8]) throws {
        var out: [UInt8] = []
        let length = withUnsafeBytes(of: UInt64(data.count).littleEndian, Array.init)
        out += length
        out += withUnsafeBytes(of: CRC32C.masked(length).littleEndian, Array.init)
        out += data
        out += withUnsafeBytes(of: CRC32C.masked(data).littleEndian, Array.init)
        let n = out.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard n == out.count else { throw EngineError("\(path): write failed") }
    }
}

/// CRC-32C (Castagnoli), and TFRecord's mask of it.
enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    static func checksum(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in data { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func masked(_ data: [UInt8]) -> UInt32 {
        let c = checksum(data)
        return ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
    }
}
