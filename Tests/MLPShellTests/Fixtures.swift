import Foundation
import XCTest

/// What several test files share: where MNIST is, and the walkthrough's model.
enum Fixtures {
    static var mnistFolder: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("data/mnist").path
    }

    /// Fails the calling test (and skips the rest of it) when MNIST has not been fetched.
    static func requireMNIST(file: StaticString = #filePath, line: UInt = #line) throws {
        let f = mnistFolder
        guard FileManager.default.fileExists(atPath: f + "/train-images-idx3-ubyte.gz")
                || FileManager.default.fileExists(atPath: f + "/train-images-idx3-ubyte") else {
            XCTFail("MNIST is missing from \(f): run scripts/fetch-mnist", file: file, line: line)
            throw XCTSkip("no MNIST")
        }
    }

    /// The walkthrough's 784-120-84-10 model block.
    static let mnistModel = """
        model
          linear 784 120
          relu
          linear 120 84
          relu
          linear 84 10
        end
        """

    /// The built `mlpsh`: in the build products folder, next to the test bundle.
    static let executable: URL? = {
        var folders: [URL] = [Bundle.main.bundleURL, Bundle(for: ErrorTests.self).bundleURL.deletingLastPathComponent()]
        if let first = CommandLine.arguments.first {
            folders.append(URL(fileURLWithPath: first).deletingLastPathComponent())
        }
        folders.append(packageFolder.appendingPathComponent(".build/debug"))
        for folder in folders {
            for candidate in [folder, folder.deletingLastPathComponent()] {
                let url = candidate.appendingPathComponent("mlpsh")
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                   FileManager.default.isExecutableFile(atPath: url.path) {
                    return url
                }
            }
        }
        return nil
    }()

    static var packageFolder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    struct ProcessResult {
        let status: Int32
        let out: String
        let err: String
    }

    /// Runs the built mlpsh with `arguments` in `folder`, feeding `input` to its standard input.
    /// `environment` changes the inherited environment (nil removes a variable).
    static func mlpsh(_ arguments: [String], input: String? = nil, in folder: URL, environment changes: [String: String?] = [:],
                      file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        guard let executable else {
            XCTFail("the mlpsh executable was not found next to the tests (build it with swift build)", file: file, line: line)
            return ProcessResult(status: -1, out: "", err: "")
        }
        return try run(executable, arguments, input: input, in: folder, environment: changes)
    }

    /// Runs a program to completion, collecting its output through files (no pipe can fill up).
    static func run(_ executable: URL, _ arguments: [String], input: String? = nil, in folder: URL,
                    environment changes: [String: String?] = [:]) throws -> ProcessResult {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        p.currentDirectoryURL = folder
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in changes { environment[k] = v }
        p.environment = environment
        let outURL = folder.appendingPathComponent(".stdout-\(UUID().uuidString)")
        let errURL = folder.appendingPathComponent(".stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let outHandle = try FileHandle(forWritingTo: outURL), errHandle = try FileHandle(forWritingTo: errURL)
        p.standardOutput = outHandle
        p.standardError = errHandle
        let inPipe = Pipe()
        p.standardInput = inPipe
        try p.run()
        if let input { inPipe.fileHandleForWriting.write(input.data(using: .utf8)!) }
        try inPipe.fileHandleForWriting.close()
        p.waitUntilExit()
        try outHandle.close()
        try errHandle.close()
        return ProcessResult(status: p.terminationStatus,
                             out: try String(contentsOf: outURL, encoding: .utf8),
                             err: try String(contentsOf: errURL, encoding: .utf8))
    }
}

/// A test case with a fresh temporary folder for each test, removed afterwards.
class FolderTestCase: XCTestCase {
    private(set) var folder: URL!

    override func setUpWithError() throws {
        try super.setUpWithError()
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mlpsh-\(Self.self)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
        try super.tearDownWithError()
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
}
