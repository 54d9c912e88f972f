import Foundation
import MLPEngine

/// Tab completion from the same command table and registries that dispatch uses.
public final class Completer {
    let interpreter: Interpreter
    public init(interpreter: Interpreter) { self.interpreter = interpreter }

    /// The candidates for the word being typed, given the line before it.
    public func complete(line before: String, word: String) -> [String] {
        let session = interpreter.session
        let r = session.registries
        if word.hasPrefix("$") {
            let names = Set(session.variables.keys).union(session.overrides.keys)
            return names.sorted().map { "$" + $0 }.filter { $0.hasPrefix(word) }
        }
        let words = before.split(whereSeparator: \.isWhitespace).map(String.init)
        // The first word: a command, or a layer inside a model block.
        if words.isEmpty {
            let names = interpreter.isInBlock ? r.layers.names + ["end"] : interpreter.commands.names
            return names.filter { $0.hasPrefix(word) }.sorted()
        }
        let name = words[0]
        var options: [OptionSpec] = []
        var kind: ArgumentKind = .word
        if interpreter.isInBlock {
            options = (try? r.layers.lookup(name))?.options ?? []
        } else if let command = interpreter.commands.lookup(name) {
            let positional = words.dropFirst().filter { !$0.contains("=") }
            let index = positional.count
            if !command.arguments.isEmpty { kind = command.arguments[min(index, command.arguments.count - 1)] }
            options = command.options
            if command.delegatesOptions, let entryName = positional.last {
                options = registryOptions(command: name, entry: entryName) ?? options
            }
        }
        var candidates: [String] = []
        switch kind {
        case .command: candidates = interpreter.commands.names + r.all.flatMap(\.names)
        case .registry(let key): candidates = r.kind(key: key)?.names ?? []
        case .variable: candidates = Array(session.variables.keys)
        case .path: return completePath(word)
        case .word: break
        case .run: candidates = ((try? session.runs.open().ids()) ?? []).map(String.init)
        }
        let optionWords = options.map { $0.key + "=" }
        let pool = (word.contains("=") ? [] : candidates) + optionWords
        return Array(Set(pool.filter { $0.hasPrefix(word) })).sorted()
    }

    private func registryOptions(command: String, entry: String) -> [OptionSpec]? {
        interpreter.session.registries.kind(forCommand: command)?.help(entry)?.options
    }

    /// File names that start with `word`; folders end with "/". A leading ~ is the home folder.
    public func completePath(_ word: String) -> [String] {
        // Split at the last "/": the folder as typed, and the start of the name.
        let typedDir: String, prefix: String
        if let slash = word.lastIndex(of: "/") {
            typedDir = String(word[...slash])
            prefix = String(word[word.index(after: slash)...])
        } else {
            typedDir = ""
            prefix = word
        }
        var listDir = typedDir.isEmpty ? "." : typedDir
        if listDir.hasPrefix("~") { listDir = homeFolder + listDir.dropFirst() }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: listDir) else { return [] }
        return names.filter { $0.hasPrefix(prefix) && (prefix.hasPrefix(".") || !$0.hasPrefix(".")) }.sorted().map { name in
            var isDir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: listDir + "/" + name, isDirectory: &isDir)
            return typedDir + name + (isDir.boolValue ? "/" : "")
        }
    }
}
