import Foundation
import XCTest

/// A standard output that fails (a full device, a closed descriptor, a reader that went away
/// while SIGPIPE is ignored) ends mlpsh with one message and status 1, never a crash.
final class StreamFailureTests: XCTestCase {
    private func run(stdout: FileHandle?, arguments: [String], ignorePipe: Bool = false) throws -> (status: Int32, err: String) {
        let executable = try XCTUnwrap(Fixtures.executable)
        let p = Process()
        // A shell in between can ignore SIGPIPE for mlpsh (an ignored signal stays ignored across exec).
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        let quoted = ([executable.path] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        p.arguments = ["-c", (ignorePipe ? "trap '' PIPE; " : "") + (stdout == nil ? "exec " + quoted + " >&-" : "exec " + quoted)]
        let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: errFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errFile) }
        if let stdout { p.standardOutput = stdout }
        p.standardError = try FileHandle(forWritingTo: errFile)
        try p.run()
        p.waitUntilExit()
        return (p.terminationStatus, try String(contentsOf: errFile, encoding: .utf8))
    }

    func testAFullDeviceIsReportedNotACrash() throws {
        let full = try XCTUnwrap(FileHandle(forWritingAtPath: "/dev/full"))
        let r = try run(stdout: full, arguments: ["-c", "echo hello"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.err, "mlpsh: error: cannot write to standard output: No space left on device\n")
    }

    func testAClosedStandardOutput() throws {
        let r = try run(stdout: nil, arguments: ["-c", "echo hello"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.hasPrefix("mlpsh: error: cannot write to standard output"), r.err)
        XCTAssertFalse(r.err.contains("Fatal error") || r.err.contains("backtrace"), r.err)
    }

    func testAReaderThatLeavesWithSIGPIPEIgnored() throws {
        let pipe = Pipe()
        try pipe.fileHandleForReading.close()
        let r = try run(stdout: pipe.fileHandleForWriting, arguments: ["-c", "help; help; help"], ignorePipe: true)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.err, "mlpsh: error: cannot write to standard output: Broken pipe\n")
    }
}
