import Foundation
import Synchronization

/// Writes files so that a failure never harms the file already there: the bytes go to a
/// temporary file in the same folder, are flushed to disk (fsync), and the temporary file is
/// renamed over the target. On any failure the temporary file is removed.
public enum AtomicFile {
    /// A hook for tests: called with each chunk's size before it is written; throwing
    /// simulates a failed write (a full disk).
    nonisolated(unsafe) public static var failureInjection: ((Int) throws -> Void)?

    /// False on the ranks of a parallel job other than rank 0: their writes do nothing, as
    /// rank 0 writes the same files.
    nonisolated(unsafe) public static var writesEnabled = true

    public static func write(_ bytes: [UInt8], to given: String) throws {
        guard writesEnabled else { return }
        // A symbolic link is written through: its target is replaced, atomically, where it is.
        let path = try target(of: given)
        try checkWritableFolder(path)
        let dir = parentFolder(of: path)
        let name = path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
        var template = Array((dir + "/.\(name).tmp-XXXXXX").utf8CString)
        // The temporary file is created and recorded with the ending signals held back, so a
        // handler that removes it (see removeUnfinishedFile) never misses one.
        let held = holdEndingSignals()
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd >= 0 { recordUnfinished(template) }
        releaseSignals(held)
        guard fd >= 0 else { throw EngineError("\(path): cannot write in \(dir) (\(String(cString: strerror(errno))))") }
        defer { unfinished.store(false, ordering: .sequentiallyConsistent) }
        let tmp = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var closed = false
        do {
            var offset = 0
            while offset < bytes.count {
                let chunk = min(1 << 20, bytes.count - offset)
                try failureInjection?(chunk)
                let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, chunk) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw EngineError("\(path): write failed (\(String(cString: strerror(errno)))); the old file is unchanged")
                }
                offset += n
            }
            guard fsync(fd) == 0 else { throw EngineError("\(path): flushing to disk failed (\(String(cString: strerror(errno)))); the old file is unchanged") }
            fchmod(fd, mode(replacing: path))
            close(fd)
            closed = true
            guard rename(tmp, path) == 0 else {
                throw EngineError("\(path): cannot replace it (\(String(cString: strerror(errno)))); the old file is unchanged")
            }
        } catch {
            if !closed { close(fd) }
            unlink(tmp)
            throw error
        }
    }

    /// The temporary file being written, for a signal handler to remove: a fixed buffer, and
    /// whether it holds a path now. One write at a time is tracked (the last to start).
    private static let unfinishedPath = UnsafeMutablePointer<CChar>.allocate(capacity: Int(PATH_MAX) + 1)
    private static let unfinished = Atomic<Bool>(false)

    /// Makes the state `removeUnfinishedFile` reads, before a signal handler can run it.
    public static func prepareForSignals() {
        unfinishedPath[0] = 0
        unfinished.store(false, ordering: .sequentiallyConsistent)
    }

    /// Removes the temporary file of a write under way, if there is one. Async-signal-safe
    /// (an atomic load and unlink(2)) once `prepareForSignals` has run: for a handler that is
    /// about to end the process in the middle of a write.
    public static func removeUnfinishedFile() {
        if unfinished.load(ordering: .sequentiallyConsistent) { unlink(unfinishedPath) }
    }

    private static func recordUnfinished(_ template: [CChar]) {
        guard template.count <= Int(PATH_MAX) + 1 else { return }
        template.withUnsafeBufferPointer { unfinishedPath.update(from: $0.baseAddress!, count: $0.count) }
        unfinished.store(true, ordering: .sequentiallyConsistent)
    }

    /// Blocks SIGINT, SIGTERM and SIGHUP in this thread; returns the mask to put back.
    private static func holdEndingSignals() -> sigset_t {
        var set = sigset_t(), old = sigset_t()
        sigemptyset(&set)
        for sig in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, sig) }
        pthread_sigmask(SIG_BLOCK, &set, &old)
        return old
    }

    private static func releaseSignals(_ mask: sigset_t) {
        var mask = mask
        pthread_sigmask(SIG_SETMASK, &mask, nil)
    }

    /// The path to write for `path`: itself when missing or a regular file; the end of its
    /// chain of symbolic links when it is one; anything else (a folder, a device, a FIFO, a
    /// socket) is refused, since renaming over it would replace it.
    static func target(of path: String) throws -> String {
        var current = path
        for _ in 0..<32 {
            var st = stat()
            guard lstat(current, &st) == 0 else { return current }   // missing: created
            switch st.st_mode & S_IFMT {
            case S_IFREG: return current
            case S_IFLNK:
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = readlink(current, &buffer, buffer.count - 1)
                guard n > 0 else { throw EngineError("\(path): cannot read the link (\(String(cString: strerror(errno))))") }
                let link = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                current = link.hasPrefix("/") ? link : parentFolder(of: current) + "/" + link
            case S_IFDIR: throw EngineError("\(path) is a folder")
            case S_IFCHR, S_IFBLK: throw EngineError("\(path) is a device: refused (only a regular file or a new path is written)")
            case S_IFIFO: throw EngineError("\(path) is a FIFO: refused (only a regular file or a new path is written)")
            default: throw EngineError("\(path) is not a regular file: refused")
            }
        }
        throw EngineError("\(path): too many levels of symbolic links")
    }

    /// The process's umask, read once (reading it means setting it back at once).
    private static let processUmask: mode_t = {
        let mask = umask(0o022)
        umask(mask)
        return mask
    }()

    /// The mode a written file gets: the mode of the regular file it replaces, or for a new
    /// file 0666 less the umask, as open(2) would create it.
    static func mode(replacing path: String) -> mode_t {
        var st = stat()
        if lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG { return st.st_mode & 0o7777 }
        return 0o666 & ~processUmask
    }

    public static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    /// Appends `text` to the regular file at `path` in one write(2) (a log's next row): the
    /// rows before it are never rewritten.
    public static func append(_ text: String, to given: String) throws {
        guard writesEnabled else { return }
        let path = try target(of: given)
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw EngineError("\(path): cannot append to it (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw EngineError("\(path) is not a regular file") }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw EngineError("\(path): write failed (\(String(cString: strerror(errno))))")
            }
            offset += n
        }
    }
}
