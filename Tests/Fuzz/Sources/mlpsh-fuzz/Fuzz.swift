import Foundation

/// The fuzz target scripts/fuzz asked for, read once.
private let target = ProcessInfo.processInfo.environment["MLPSH_FUZZ_TARGET"] ?? ""

/// libFuzzer calls this with each input. Every target must return normally, whatever the
/// bytes: a thrown error is a handled input; a crash, a hang or a huge allocation is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard FuzzTargets.names.contains(target) else {
        FileHandle.standardError.write("MLPSH_FUZZ_TARGET must be one of: \(FuzzTargets.names.joined(separator: ", "))\n".data(using: .utf8)!)
        exit(2)
    }
    if target == "interpreter" { _ = emptyFolder }
    FuzzTargets.run(target, Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

/// The interpreter target runs in an empty folder of its own, so relative names find nothing.
private let emptyFolder: Void = {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mlpsh-fuzz-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    _ = FileManager.default.changeCurrentDirectoryPath(dir.path)
}()
