import Foundation
import MLPEngine
import MLPShell

/// What each fuzz target does with one input. Compiled into the libFuzzer binary (Tests/Fuzz)
/// and, through a link, into MLPShellTests, which replays the corpus and every input that once
/// crashed (Tests/Fuzz/regressions) as ordinary tests.
enum FuzzTargets {
    static let names = ["lexer", "interpreter", "idx", "safetensors", "image"]

    static func run(_ target: String, _ bytes: [UInt8]) {
        switch target {
        case "lexer": fuzzLexer(bytes)
        case "interpreter": fuzzInterpreter(bytes)
        case "idx": _ = try? IDXArray(parsing: bytes, name: "fuzz")
        case "safetensors": fuzzSafeTensors(bytes)
        case "image": fuzzImage(bytes)
        default: preconditionFailure("no fuzz target \(target)")
        }
    }
}

private func fuzzLexer(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    guard let statements = try? Lexer.statements(in: text) else { return }
    for s in statements {
        guard let words = try? Lexer.words(in: s, variables: { $0 == "x" ? "1 2" : nil }) else { continue }
        _ = Invocation(words: words, location: nil)
    }
}

private func fuzzSafeTensors(_ bytes: [UInt8]) {
    guard let file = try? SafeTensors(parsing: bytes, name: "fuzz") else { return }
    // Whatever parsed must serialize and parse back to the same entries.
    let again = try! SafeTensors(parsing: file.serialized(), name: "again")
    precondition(again.entries.map(\.name) == file.entries.map(\.name), "round trip changed the tensors")
}

private func fuzzImage(_ bytes: [UInt8]) {
    guard let image = try? (bytes.first == 0x89 ? GreyImage.decodePNG(bytes) : GreyImage.decodePGM(bytes)) else { return }
    _ = image.mnistLike()
}

// MARK: - The interpreter, on tiny models in an empty folder

/// Numbers above this are refused before a command runs, so that inputs stay small and fast:
/// the range checks of large values are tested by the unit tests.
private let largest = 256

/// Every command, except those that write files or load code; `plot`, `history` and `train`
/// without their file options; no word may name a path.
private let commands: [Command] = builtinCommands().compactMap { c in
    if ["save", "load", "include", "plugin"].contains(c.name) { return nil }
    return Command(name: c.name, group: c.group, usage: c.usage, summary: c.summary, details: c.details,
                   options: c.options, arguments: c.arguments, example: c.example, delegatesOptions: c.delegatesOptions) { inv, o, s in
        for w in inv.words.map(\.text) {
            if w.contains("/") { throw EngineError("fuzz: no paths") }
            for number in w.split(whereSeparator: { !$0.isNumber }) where number.count > 3 || (Int(number) ?? 0) > largest {
                throw EngineError("fuzz: \(number) is too large")
            }
        }
        if inv.options["out"] != nil || inv.options["log"] != nil { throw EngineError("fuzz: no files") }
        try c.run(inv, o, s)
    }
}

private func fuzzInterpreter(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    let session = Session(console: Console(write: { _ in }, writeError: { _ in }))
    let interpreter = Interpreter(session: session, commands: CommandTable(commands))
    // Each line on its own, as at the prompt: an error does not end the session.
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        do { try interpreter.feed(line: String(line), location: SourceLocation(file: "fuzz", line: 1)) } catch {}
    }
    do { try interpreter.closeInput() } catch {}
}
