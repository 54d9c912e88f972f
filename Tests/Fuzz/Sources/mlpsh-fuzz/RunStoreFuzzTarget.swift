import Foundation
import MLPShell

// MARK: - The run history: a hostile store, read by the commands that read it

/// The store the run-store target writes each input to (one a process).
private let storePath = FileManager.default.temporaryDirectory.appendingPathComponent("mlpsh-fuzz-runs-\(getpid()).sqlite").path

/// The bytes are a SQLite file put where MLPSH_RUNS points. The commands that read the history
/// (`runs`, `runs show`, `runs compare`, `runs script`, `plot runs=`) and the one that writes it
/// (`runs rm`) must give output or an error, never crash, and their output stays bounded.
func fuzzRunStore(_ bytes: [UInt8]) {
    let before = ProcessInfo.processInfo.environment["MLPSH_RUNS"]
    setenv("MLPSH_RUNS", storePath, 1)
    defer {
        if let before { setenv("MLPSH_RUNS", before, 1) } else { unsetenv("MLPSH_RUNS") }
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(storePath + suffix) }
    }
    guard FileManager.default.createFile(atPath: storePath, contents: Data(bytes)) else { return }
    var written = 0
    let count: (String) -> Void = { written += $0.utf8.count }
    let session = Session(console: Console(write: count, writeError: count))
    let interpreter = Interpreter(session: session, commands: CommandTable(builtinCommands()))
    let lines = ["runs", "runs last=3", "runs show 1", "runs show 2", "runs script 1", "runs compare 1 2",
                 "plot loss runs=1", "plot accuracy runs=1,2", "runs rm 1", "runs"]
    for line in lines {
        do { try interpreter.feed(line: line, location: SourceLocation(file: "fuzz", line: 1)) } catch {}
    }
    // A store of at most max_len bytes holds little: its tables must not print megabytes.
    precondition(written < 1 << 22, "the run history printed \(written) bytes")
}
