import Foundation

/// Writes to standard output and standard error with write(2), so that a stream that fails
/// (a full disk, a closed pipe with SIGPIPE ignored, a terminal that went away) ends mlpsh
/// cleanly instead of crashing in Foundation: the failure is reported once on standard error
/// (when that still works) and mlpsh exits with status 1.
public enum StandardStreams {
    /// Called once before mlpsh leaves because a stream failed: the run history ends the run
    /// in progress as failed, so that it is not left 'running'.
    nonisolated(unsafe) public static var beforeFailing: (() -> Void)?

    /// Writes all of `text` to `fd`, or leaves.
    public static func write(_ text: String, to fd: Int32) {
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n > 0 { done += n; continue }
            if n < 0 && errno == EINTR { continue }
            fail(fd, errno: n < 0 ? errno : EIO)
        }
        bytes.removeAll()
    }

    private static func fail(_ fd: Int32, errno code: Int32) -> Never {
        if fd != STDERR_FILENO {
            let what = fd == STDOUT_FILENO ? "standard output" : "file descriptor \(fd)"
            let message = Array("mlpsh: error: cannot write to \(what): \(String(cString: strerror(code)))\n".utf8)
            _ = message.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
        }
        if let last = beforeFailing {
            beforeFailing = nil
            last()
        }
        exit(1)
    }
}
