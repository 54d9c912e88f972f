import Foundation
import MLPEngine

/// The version written into checkpoints' metadata.
public let mlpshVersion = "0.1.0"

func checkpointCommands() -> [Command] {
    [
        Command(name: "save", group: "Checkpoints", usage: "save FILE.safetensors [optimizer=true]",
                summary: "writes the weights, the model's definition and the history as safetensors",
                details: "Tensors are named as nn.Sequential's state_dict names them (0.weight, 0.bias, 2.weight, ...),\nweights [out, in] float32. With optimizer=true the file also holds the optimizer and its state,\nthe loss, the schedule and the random state, so that a later 'train' goes on exactly.\nThe file is written to a temporary file, flushed, then renamed: a failure leaves the old one.",
                options: [OptionSpec("optimizer", "false", "also save what resuming training needs")],
                arguments: [.path], example: "save mnist_mlp.safetensors", run: { inv, o, s in
                    try expectArguments(inv, 1...1, usage: "save FILE.safetensors [optimizer=true]")
                    try checkpoint(of: s, optimizer: try o.bool("optimizer")).write(to: inv.positional[0])
                }),
        Command(name: "load", group: "Checkpoints", usage: "load FILE.safetensors",
                summary: "fills the model from a file, or rebuilds it from the file's definition",
                details: "With no model defined, the model is rebuilt from the file's metadata. With one, every tensor's\nname, shape and dtype must match it (a file saved by PyTorch from a matching nn.Sequential loads).\nThe optimizer's state and the epoch count come back when the file has them.",
                arguments: [.path], example: "load mnist_mlp.safetensors", run: { inv, _, s in
                    try expectArguments(inv, 1...1, usage: "load FILE.safetensors")
                    try restore(s, from: try SafeTensors(path: inv.positional[0]), name: inv.positional[0])
                }),
    ]
}

private let stateDictPrefix = "mlpsh."

/// The session as a safetensors file: the model's parameters, its metadata, and with
/// `optimizer` the optimizer's state and the random source.
func checkpoint(of s: Session, optimizer withOptimizer: Bool) throws -> SafeTensors {
    let model = try s.requireModel()
    var entries: [SafeTensors.Entry] = model.namedParameters.map { name, p in
        return SafeTensors.Entry(name: name, shape: p.shape, floats: p.value.array)
    }
    var meta: [String: String] = [
        "format": "pt",
        "mlpsh.version": mlpshVersion,
        "mlpsh.model": model.definition,
        "mlpsh.input_shape": model.inputShape.map(String.init).joined(separator: ","),
        "mlpsh.seed": String(s.random.seed),
        "mlpsh.history": historyJSON(s.history),
    ]
    if withOptimizer {
        guard let optimizer = s.optimizer else { throw EngineError("optimizer=true but no optimizer is chosen") }
        meta["mlpsh.optimizer"] = optimizer.definition
        meta["mlpsh.optimizer_steps"] = String(optimizer.steps)
        meta["mlpsh.schedule"] = s.schedule.definition
        meta["mlpsh.epochs"] = String(s.history.count)
        if let loss = s.loss { meta["mlpsh.loss"] = loss.definition }
        for (name, values) in optimizer.state.sorted(by: { $0.key < $1.key }) {
            entries.append(SafeTensors.Entry(name: stateDictPrefix + "optimizer." + name, shape: [values.count], floats: values))
        }
        let rng = s.random.source
        entries.append(SafeTensors.Entry(name: stateDictPrefix + "random_state", shape: [rng.state.count], uint32s: rng.state))
        meta["mlpsh.random_index"] = String(rng.index)
    }
    return SafeTensors(entries: entries, metadata: meta)
}

/// Loads `file` into the session: rebuilds or checks the model, copies the weights, and
/// restores the history, optimizer, loss, schedule and random state the file holds.
func restore(_ s: Session, from file: SafeTensors, name: String) throws {
    guard let interpreter = s.interpreter else { throw EngineError("load needs an interpreter") }
    // The metadata's mlpsh text is data: each piece must be one statement of its kind.
    for key in ["mlpsh.loss", "mlpsh.optimizer", "mlpsh.schedule"] {
        if let text = file.metadata[key] { try checkSingleStatement(text, key: key, name: name) }
    }
    if let definition = file.metadata["mlpsh.model"] {
        for line in definition.split(separator: "\n", omittingEmptySubsequences: false) {
            try checkSingleStatement(String(line), key: "mlpsh.model", name: name)
            let first = line.split(separator: " ").first
            if first == "end" || first == "model" {
                throw EngineError("\(name): mlpsh.model may hold only layers, not '\(first!)'")
            }
        }
    }
    let history = try file.metadata["mlpsh.history"].map { try parseHistory($0, name: name) }
    if s.model == nil {
        guard let definition = file.metadata["mlpsh.model"] else {
            throw EngineError("\(name) has no mlpsh model definition: define the model first, then load")
        }
        try runQuietly(interpreter, "model\n" + definition + "\nend", name: name)
    }
    let model = try s.requireModel()
    let params = model.namedParameters
    // Check everything before changing anything.
    for (pname, p) in params {
        guard let e = file.entry(pname) else {
            throw EngineError("\(name) has no tensor '\(pname)' for the model's \(p.name) of layer \(pname.split(separator: ".")[0])")
        }
        let expected = p.shape
        guard e.dtype == "F32" else { throw EngineError("\(name): tensor '\(pname)' is \(e.dtype), expected F32") }
        guard e.shape == expected else {
            throw EngineError("\(name): tensor '\(pname)' has shape \(e.shape), the model expects \(expected)")
        }
    }
    let known = Set(params.map(\.0))
    if let extra = file.entries.first(where: { !known.contains($0.name) && !$0.name.hasPrefix(stateDictPrefix) }) {
        throw EngineError("\(name): tensor '\(extra.name)' matches nothing in the model")
    }
    for (pname, p) in params {
        let values = file.entry(pname)!.floats
        values.withUnsafeBufferPointer { p.value.data.update(from: $0.baseAddress!, count: values.count) }
    }
    if let history { s.history = history }
    if let lossText = file.metadata["mlpsh.loss"] { try runQuietly(interpreter, "loss " + lossText, name: name) }
    if let scheduleText = file.metadata["mlpsh.schedule"] { try runQuietly(interpreter, "schedule " + scheduleText, name: name) }
    if let optimText = file.metadata["mlpsh.optimizer"] {
        try runQuietly(interpreter, "optim " + optimText, name: name)
        var state: [String: [Float]] = [:]
        for e in file.entries where e.name.hasPrefix(stateDictPrefix + "optimizer.") {
            state[String(e.name.dropFirst((stateDictPrefix + "optimizer.").count))] = e.floats
        }
        let steps = Int(file.metadata["mlpsh.optimizer_steps"] ?? "0") ?? 0
        try s.optimizer!.restore(state: state, steps: steps)
    }
    if let r = file.entry(stateDictPrefix + "random_state"), let index = file.metadata["mlpsh.random_index"].flatMap(Int.init) {
        guard r.dtype == "U32", let source = RandomSource(state: r.uint32s, index: index) else {
            throw EngineError("\(name): the saved random state is malformed")
        }
        s.random.source = source
    }
}

/// Refuses metadata text that could run more than one statement of mlpsh.
private func checkSingleStatement(_ text: String, key: String, name: String) throws {
    if let bad = text.first(where: { ";\n\r#$\"".contains($0) }) {
        throw EngineError("\(name): \(key) holds '\(bad)', which a definition never does; the file is refused")
    }
}

/// Runs mlpsh text that a checkpoint holds; an error in it names the file.
private func runQuietly(_ interpreter: Interpreter, _ text: String, name: String) throws {
    do {
        try interpreter.run(source: text, file: name)
    } catch let e as ShellError {
        let hint = e.message.hasPrefix("unknown") ? " (if it comes from a plugin, 'plugin load' it first)" : ""
        throw EngineError("\(name): its metadata does not rebuild: \(e.message)\(hint)")
    }
}

/// One epoch as the metadata's JSON holds it.
private struct HistoryRow: Codable {
    var epoch: Int
    var train_loss: Double
    var train_acc: Double
    var test_loss: Double?
    var test_acc: Double?
    var lr: Double?
    var seconds: Double?
}

func historyJSON(_ history: [EpochResult]) -> String {
    let rows = history.map {
        HistoryRow(epoch: $0.epoch, train_loss: $0.trainLoss, train_acc: $0.trainAccuracy, test_loss: $0.testLoss,
                   test_acc: $0.testAccuracy, lr: Double($0.learningRate), seconds: $0.seconds)
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return (try? encoder.encode(rows)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
}

func parseHistory(_ text: String, name: String) throws -> [EpochResult] {
    // JSONDecoder reads doubles exactly (JSONSerialization on Linux can be one unit off).
    guard let rows = try? JSONDecoder().decode([HistoryRow].self, from: Data(text.utf8)) else {
        throw EngineError("\(name): mlpsh.history in the metadata is not a list of epochs")
    }
    return rows.map {
        EpochResult(epoch: $0.epoch, trainLoss: $0.train_loss, trainAccuracy: $0.train_acc, testLoss: $0.test_loss,
                    testAccuracy: $0.test_acc, learningRate: Float($0.lr ?? 0), seconds: $0.seconds ?? 0)
    }
}
