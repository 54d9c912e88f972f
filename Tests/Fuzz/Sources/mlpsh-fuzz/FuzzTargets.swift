import Foundation
import MLPEngine
import MLPShell

/// What each fuzz target does with one input. Compiled into the libFuzzer binary (Tests/Fuzz)
/// and, through a link, into MLPShellTests, which replays the corpus and every input that once
/// crashed (Tests/Fuzz/regressions) as ordinary tests.
enum FuzzTargets {
    static let names = ["lexer", "interpreter", "idx", "safetensors", "image", "checkpoint", "csv", "model", "runstore", "onnx"]

    static func run(_ target: String, _ bytes: [UInt8]) {
        switch target {
        case "lexer": fuzzLexer(bytes)
        case "interpreter": fuzzInterpreter(bytes)
        case "idx": _ = try? IDXArray(parsing: bytes, name: "fuzz")
        case "safetensors": fuzzSafeTensors(bytes)
        case "image": fuzzImage(bytes)
        case "checkpoint": fuzzCheckpoint(bytes)
        case "csv": fuzzCSV(bytes)
        case "model": fuzzModel(bytes)
        case "runstore": fuzzRunStore(bytes)
        case "onnx": fuzzONNX(bytes)
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

// MARK: - A checkpoint's metadata: the model description and what comes with it

/// Up to five metadata values separated by NUL bytes: mlpsh.layers, mlpsh.model,
/// mlpsh.input_shape, mlpsh.history and mlpsh.optimizer. When they describe a model, the file
/// gets that model's tensors, so that reading goes all the way; what reads must then save
/// and read back (what is saved must load).
private func fuzzCheckpoint(_ bytes: [UInt8]) {
    let fields = bytes.split(separator: 0, maxSplits: 4, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    // Small numbers only: large layers are allowed, but slow; their limits have unit tests.
    for field in fields {
        for number in field.split(whereSeparator: { !$0.isNumber }) where number.count > 2 || (Int(number) ?? 0) > 64 { return }
    }
    let keys = ["mlpsh.layers", "mlpsh.model", "mlpsh.input_shape", "mlpsh.history", "mlpsh.optimizer"]
    var meta: [String: String] = [:]
    for (key, value) in zip(keys, fields) where !value.isEmpty { meta[key] = value }
    let random = RandomGenerator(seed: 0), dataShape = [1, 6, 6]
    var file = SafeTensors(entries: [], metadata: meta)
    if let specs = try? Checkpoint.modelSpecs(meta, name: "fuzz"),
       let shape = try? Checkpoint.inputShape(meta, name: "fuzz") ?? dataShape,
       let model = try? Sequential.build(specs, inputShape: shape, random: random),
       let whole = try? Checkpoint.file(model: model, history: [], loss: nil, optimizer: nil, schedule: .none,
                                        random: random, training: false, version: "fuzz") {
        file = SafeTensors(entries: whole.entries, metadata: meta)
    }
    guard let c = try? Checkpoint.read(file, name: "fuzz", into: nil, dataShape: dataShape, random: random) else { return }
    c.commit()
    let saved: SafeTensors
    do {
        saved = try Checkpoint.file(model: c.model, history: c.history ?? [], loss: c.loss, optimizer: c.optimizer,
                                    schedule: c.schedule ?? .none, random: random, training: false, version: "fuzz")
    } catch {
        preconditionFailure("a checkpoint that read does not save: \(error)")
    }
    do {
        let again = try SafeTensors(parsing: saved.serialized(), name: "again")
        _ = try Checkpoint.read(again, name: "again", into: nil, dataShape: dataShape, random: random)
    } catch {
        preconditionFailure("a checkpoint saved from one that read does not read back: \(error)")
    }
}

// MARK: - CSV, whole and in chunks

/// The first byte picks the label column, the header, the separator and a chunk size; the
/// rest is the CSV. Read whole and read in chunks, it must give the same table or error.
private func fuzzCSV(_ bytes: [UInt8]) {
    guard let first = bytes.first else { return }
    let text = Array(bytes.dropFirst())
    let label = ["label", "last", "0", "1"][Int(first & 3)]
    let header = first & 4 == 0, separator = first & 8 == 0 ? UInt8(ascii: ",") : UInt8(ascii: ";")
    func read(_ chunk: Int) -> Result<CSVTable, EngineError> {
        do {
            let reader = try CSVTable.Reader(name: "fuzz", label: label, header: header, separator: separator, limit: 1000)
            var at = 0
            while at < text.count {
                let end = min(text.count, at + chunk)
                let more = try text[at..<end].withUnsafeBytes { try reader.consume($0) }
                at = end
                if !more { break }
            }
            return .success(try reader.finish())
        } catch let e as EngineError {
            return .failure(e)
        } catch {
            preconditionFailure("not an EngineError: \(error)")
        }
    }
    switch (read(max(1, text.count)), read(Int(first >> 4) + 1)) {
    case let (.success(a), .success(b)):
        precondition(a.values == b.values && a.labels == b.labels && a.classNames == b.classNames && a.columnNames == b.columnNames,
                     "chunks changed the table")
        precondition(a.values.count == a.rows * a.features && a.labels.allSatisfy { $0 >= 0 && Int($0) < a.classNames.count },
                     "the table is inconsistent")
    case let (.failure(a), .failure(b)):
        precondition(a.message == b.message, "chunks changed the error: \(a.message) / \(b.message)")
    case let (a, b):
        preconditionFailure("whole and chunked reads disagree: \(a) / \(b)")
    }
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
