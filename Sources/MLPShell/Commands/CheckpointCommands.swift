import Foundation
import MLPEngine

/// The version written into checkpoints' metadata.
public let mlpshVersion = "0.8.0"

func checkpointCommands() -> [Command] {
    [
        Command(name: "save", group: "Checkpoints", usage: "save FILE.safetensors [optimizer=true]",
                summary: "writes the weights, the model's definition and the history as safetensors",
                details: "Tensors are named as nn.Sequential's state_dict names them (0.weight, 0.bias, 2.weight, ...),\nweights [out, in] float32. With optimizer=true the file also holds the optimizer and its state,\nthe loss, the schedule and the random state, so that a later 'train' goes on exactly.\nThe file is written to a temporary file, flushed, then renamed: a failure leaves the old one.",
                options: [OptionSpec("optimizer", "false", "also save what resuming training needs")],
                arguments: [.path], example: "save mnist_mlp.safetensors", run: { inv, o, s in
                    try expectArguments(inv, 1...1, usage: "save FILE.safetensors [optimizer=true]")
                    try checkpoint(of: s, optimizer: try o.bool("optimizer")).write(to: inv.positional[0])
                    s.runs.wrote(inv.positional[0])
                }),
        Command(name: "load", group: "Checkpoints", usage: "load FILE.safetensors|FILE.onnx",
                summary: "fills the model from a file, or rebuilds it from the file's definition",
                details: "With no model defined, the model is rebuilt from the file's metadata. With one, every tensor's\nname, shape and dtype must match it (a file saved by PyTorch from a matching nn.Sequential loads).\nThe optimizer's state and the epoch count come back when the file has them.\nA .onnx file becomes the model, its layers read from the graph's operators (\(ONNXImport.operators)),\nsuch as torch.onnx.export writes for an nn.Sequential of these layers or residual and concat blocks;\nany other operator is an error naming its node.",
                arguments: [.path], example: "load mnist_mlp.safetensors", run: { inv, _, s in
                    try expectArguments(inv, 1...1, usage: "load FILE.safetensors|FILE.onnx")
                    let path = inv.positional[0]
                    if path.lowercased().hasSuffix(".onnx") {
                        let model = try ONNXImport.load(path, registries: s.registries)
                        if let shape = s.dataShape, shape.reduce(1, *) != model.inputWidth {
                            throw EngineError("\(path): the graph takes [\(model.inputShape.map(String.init).joined(separator: ", "))] samples, the data \(shape)")
                        }
                        s.setModel(model)
                        s.console.write("loaded \(path): \(model.layers.count) layers, \(model.parameterCount) parameters\n")
                        return
                    }
                    try restore(s, from: try SafeTensors(path: path), name: path)
                }),
        Command(name: "export", group: "Checkpoints", usage: "export FILE.onnx",
                summary: "writes the model as an ONNX graph (opset 17) for onnxruntime and other runtimes",
                details: "The graph's input is 'input' [batch, ...sample shape] with a dynamic batch axis, its output\n'logits'; in evaluation mode (batch norm with its running statistics, no dropout). Its initializers\nare named as the safetensors file names the weights (0.weight). Written atomically.",
                arguments: [.path], example: "export lenet5.onnx", run: { inv, _, s in
                    try expectArguments(inv, 1...1, usage: "export FILE.onnx")
                    try ONNXExport.write(try s.requireModel(), to: inv.positional[0])
                    s.runs.wrote(inv.positional[0])
                }),
    ]
}

/// The session as a safetensors file: the model's parameters, buffers and metadata, and with
/// `optimizer` what resuming training needs.
func checkpoint(of s: Session, optimizer withOptimizer: Bool) throws -> SafeTensors {
    try Checkpoint.file(model: try s.requireModel(), history: s.history, loss: s.loss, optimizer: s.optimizer,
                        schedule: s.schedule, random: s.random, training: withOptimizer, version: mlpshVersion,
                        normalization: s.normalization)
}

/// Loads `file` into the session: the engine reads and builds everything first; only then
/// does the session take the model, weights, history, optimizer, loss, schedule and random
/// state, so a file that fails changes nothing.
func restore(_ s: Session, from file: SafeTensors, name: String) throws {
    let c = try Checkpoint.read(file, name: name, into: s.model, dataShape: s.dataShape,
                                registries: s.registries, random: s.random)
    s.install(c)
}

