import Foundation

/// The folder part of `path` ("." when it has none), without Foundation's path parsing.
public func parentFolder(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    let dir = String(path[..<slash])
    return dir.isEmpty ? "/" : dir
}

/// Fails when the folder `path` would be written in does not exist.
public func checkWritableFolder(_ path: String) throws {
    let dir = parentFolder(of: path)
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
        throw EngineError("\(path): the folder \(dir) does not exist")
    }
}
