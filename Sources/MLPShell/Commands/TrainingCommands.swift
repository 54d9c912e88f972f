import Foundation
import MLPEngine

func trainingCommands() -> [Command] {
    [
        Command(name: "loss", group: "Training", usage: "loss NAME [KEY=VALUE ...]",
                summary: "chooses the loss (cross_entropy, nll, mse, ...)", arguments: [.loss], 
                example: "loss cross_entropy label_smoothing=0.1", delegatesOptions: true, run: { inv, o, s in
                    if inv.positional.isEmpty && inv.options.isEmpty {
                        s.console.print(s.loss?.definition ?? "no loss chosen"); return
                    }
                    try expectArguments(inv, 1...1, usage: "loss NAME [KEY=VALUE ...]")
                    s.loss = try s.registries.losses.make(inv.componentSpec)
                }),
        Command(name: "optim", group: "Training", usage: "optim NAME [KEY=VALUE ...]",
                summary: "chooses the optimizer (sgd, adam, adamw, rmsprop, ...)", arguments: [.optimizer], 
                example: "optim sgd lr=0.005 momentum=0.9", delegatesOptions: true, run: { inv, o, s in
                    if inv.positional.isEmpty && inv.options.isEmpty {
                        s.console.print(s.optimizer?.definition ?? "no optimizer chosen"); return
                    }
                    try expectArguments(inv, 1...1, usage: "optim NAME [KEY=VALUE ...]")
                    s.setOptimizer(try s.registries.optimizers.make(inv.componentSpec))
                }),
        Command(name: "schedule", group: "Training", usage: "schedule NAME [KEY=VALUE ...]",
                summary: "sets the learning-rate schedule, applied at the start of each epoch", arguments: [.schedule], 
                example: "schedule step step_size=10 gamma=0.5", delegatesOptions: true, run: { inv, o, s in
                    if inv.positional.isEmpty && inv.options.isEmpty {
                        s.console.print(s.schedule.definition); return
                    }
                    try expectArguments(inv, 1...1, usage: "schedule NAME [KEY=VALUE ...]")
                    s.schedule = try s.registries.schedules.make(inv.componentSpec)
                }),
        Command(name: "train", group: "Training", usage: "train epochs=N batch=B [shuffle=true] [log=FILE.csv] [name=TEXT] [tensorboard=DIR] [KEY=VALUE ...]",
                summary: "trains on 'train', evaluating on 'test' after each epoch when it is loaded",
                details: "Prints one line an epoch:\n  epoch: 0,train_loss:2.157364,train_acc:46.7%,test_loss:1.83506,test_acc:63.7%\nthen Done. train_loss is the mean of the batch losses and train_acc is counted on the batches as\nthey are trained; val_loss and val_acc appear when a 'val' set is loaded (data val from=train\nfraction=0.1), the test half when a 'test' set is. Epochs go on counting from the last train.\nearly_stop=N stops after N epochs without a better monitor figure and names the best epoch;\nsave_best=FILE keeps that epoch's weights, history and optimizer state (load + train resumes).\nCtrl-C stops after the current batch, keeping the finished epochs.\nUnder mpirun (mpirun -np N mlpsh FILE.mlp), B is the global batch: each rank trains on its share\nand the gradients are summed (one allreduce a batch), so the epochs are one process's epochs.\nEvery train is recorded in the run history with its settings and epochs: see 'runs'.",
                options: [OptionSpec("epochs", "1", "how many epochs"), OptionSpec("batch", "64", "samples a batch"),
                          OptionSpec("shuffle", "false", "a new random order each epoch, from the seed"),
                          OptionSpec("log", "", "a CSV file that gets one row an epoch (see 'history')"),
                          OptionSpec("name", "", "names the run in the run history (see 'runs')"),
                          OptionSpec("tensorboard", "", "a folder for TensorBoard: loss/ and accuracy/ train, val, test; lr"),
                          OptionSpec("clip", "", "scale the gradients so their global L2 norm is at most this (clip_grad_norm_)"),
                          OptionSpec("early_stop", "", "stop after N epochs without improvement of monitor"),
                          OptionSpec("monitor", "", "val_loss, val_acc, test_loss or test_acc (val_loss with a val set, else test_loss)"),
                          OptionSpec("save_best", "", "a file that keeps the best epoch's weights, history and optimizer state")],
                example: "train epochs=50 batch=64 shuffle=true log=run.csv", run: train),
        Command(name: "test", group: "Training", usage: "test [batch=B] [logits=FILE.csv]",
                summary: "evaluates on 'test': test_loss:...,test_acc:...%",
                details: "test_loss is the mean of the losses of batches of B samples; test_acc the fraction right.\nlogits=FILE.csv also writes the model's outputs, one row a sample in the set's order, each\nvalue in the fewest digits that read back as the same float32 (for comparing with other runtimes).",
                options: [OptionSpec("batch", "64", "samples a batch, for the loss's mean"),
                          OptionSpec("logits", "", "a CSV file for every sample's outputs")],
                example: "test", run: { inv, o, s in
                    try expectArguments(inv, 0...0, usage: "test [batch=B] [logits=FILE.csv]")
                    let batch = try o.int("batch", min: 1, max: 1 << 20)
                    let trainer = try makeTrainer(s, training: false)
                    let data = try s.requireDataset("test")
                    try trainer.checkFit(data, name: "test")
                    try trainer.model.checkBatch(min(batch, data.count))
                    warnIfNotFinite(trainer.model, s)
                    let r = try trainer.evaluate(data, batch: batch)
                    s.console.print(String(format: "test_loss:%.5f,test_acc:%.1f%%", r.loss, r.accuracy * 100))
                    if o.has("logits") { try writeLogits(trainer.model, data, batch: batch, to: o.string("logits")) }
                }),
        Command(name: "bench", group: "Training", usage: "bench [sgemm|layers] [batch=B] [steps=N] [size=N] [conv=auto|winograd|direct|im2col]",
                summary: "times a training step of the model against its matrix products alone (GFLOP/s)",
                details: """
                Runs the model's training step (forward, loss, backward, SGD update) on random inputs and,
                separately, the same cblas_sgemm calls on their own (as plain calls on OpenBLAS's threads,
                and split across cores as the engine runs them); prints the rates and the ratios. A
                convolution counts as the products of its lowered columns. The loss is the session's
                (cross_entropy if none). The weights are put back afterwards.
                'bench sgemm' times cblas_sgemm on two size x size matrices on the kernels' threads: the
                CPU's practical peak. 'bench layers' times each layer's forward and backward pass;
                conv= picks how convolutions are computed: auto (each layer's fastest), winograd
                (F(2x2,3x3), for 3x3 layers with stride 1), direct (the SIMD kernels) or im2col (columns
                and sgemm); a layer that cannot take the one asked for falls back to the next.
                """,
                options: [OptionSpec("batch", "256", "samples a step"), OptionSpec("steps", "50", "steps a timing (median of 5)"),
                          OptionSpec("size", "2048", "bench sgemm: the matrices' side"),
                          OptionSpec("conv", "auto", "bench layers: how convolutions are computed (auto, winograd, direct or im2col)")],
                example: "bench batch=256", run: { inv, o, s in
                    try expectArguments(inv, 0...1, usage: "bench [sgemm|layers] [batch=B] [steps=N] [size=N] [conv=auto|winograd|direct|im2col]")
                    let stop = { s.interruptRequested() }
                    if inv.positional.first == "layers" { try benchLayers(o, s); return }
                    if let word = inv.positional.first {
                        guard word == "sgemm" else {
                            throw EngineError("bench: unknown word '\(word)': expected 'bench', 'bench sgemm' or 'bench layers'")
                        }
                        let n = try o.int("size", min: 16, max: 8192)
                        let rate = try Benchmark.sgemmPeak(size: n, threads: BLAS.threads, shouldStop: stop)
                        s.console.print(String(format: "sgemm %dx%d, %d threads: %.1f GFLOP/s", n, n, BLAS.threads, rate))
                        return
                    }
                    let model = try s.requireModel()
                    let batch = try o.int("batch", min: 1, max: 1 << 16), steps = try o.int("steps", min: 1, max: 1_000_000)
                    try model.checkBatch(batch)
                    let saved = Array(model.parameterStorage.buffer)
                    defer {
                        _ = model.parameterStorage.buffer.update(from: saved)
                        model.zeroGradients()
                    }
                    let gemms = Benchmark.gemms(model, batch: batch)
                    let flops = gemms.reduce(0) { $0 + $1.flops }, forward = gemms.filter(\.isForward).reduce(0) { $0 + $1.flops }
                    let alone = try Benchmark.gemmSeconds(gemms, steps: steps, shouldStop: stop)
                    let native = try Benchmark.gemmSeconds(gemms, steps: steps, openBLASThreads: BLAS.threads, shouldStop: stop)
                    let step = try Benchmark.trainingSeconds(model: model, loss: s.loss ?? CrossEntropy(), optimizer: SGD(lr: 0.005),
                                                             classes: model.outputWidth, batch: batch, steps: steps, shouldStop: stop)
                    s.console.print(String(format: "%d products, %.1f MFLOP a step of %d samples (forward %.1f), %d threads",
                                           gemms.count, flops / 1e6, batch, forward / 1e6, BLAS.threads))
                    s.console.print(String(format: "sgemm alone, OpenBLAS threads: %8.3f ms a step  %7.1f GFLOP/s", native * 1e3, flops / native / 1e9))
                    s.console.print(String(format: "sgemm alone, split by mlpsh:   %8.3f ms a step  %7.1f GFLOP/s", alone * 1e3, flops / alone / 1e9))
                    s.console.print(String(format: "training step:                 %8.3f ms a step  %7.1f GFLOP/s  %.0f%% of OpenBLAS's rate, %.0f%% of the split rate",
                                           step * 1e3, flops / step / 1e9, native / step * 100, alone / step * 100))
                }),
    ]
}

/// `bench layers`: each layer's forward and backward milliseconds a step, and their totals.
private func benchLayers(_ o: Options, _ s: Session) throws {
    let model = try s.requireModel()
    let batch = try o.int("batch", min: 1, max: 1 << 16), steps = try o.int("steps", min: 1, max: 1_000_000)
    let conv = o.string("conv")
    let algorithm = ConvAlgorithm(rawValue: conv)
    guard conv == "auto" || algorithm != nil else {
        throw EngineError("bench: conv=\(conv) is not one of: auto, \(ConvAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    try model.checkBatch(batch)
    let saved = Array(model.parameterStorage.buffer)
    let convs = model.allLayers.compactMap { $0 as? Conv2d }
    for c in convs { c.algorithm = algorithm }
    defer {
        for c in convs { c.algorithm = nil }
        _ = model.parameterStorage.buffer.update(from: saved)
        model.zeroGradients()
    }
    let times = try Benchmark.layerSeconds(model: model, batch: batch, steps: steps, shouldStop: { s.interruptRequested() })
    let width = max(5, times.map(\.layer.count).max() ?? 0)
    s.console.print("layer".padding(toLength: width, withPad: " ", startingAt: 0) + "  forward ms  backward ms   (batch \(batch), \(BLAS.threads) threads, conv=\(conv))")
    var total = (0.0, 0.0), convolutions = 0.0
    for (i, t) in times.enumerated() {
        s.console.print(printable(t.layer).padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "  %10.3f  %11.3f", t.forward * 1e3, t.backward * 1e3))
        total.0 += t.forward
        total.1 += t.backward
        if model.layers[i] is Conv2d { convolutions += t.forward + t.backward }
    }
    s.console.print("total".padding(toLength: width, withPad: " ", startingAt: 0) + String(format: "  %10.3f  %11.3f", total.0 * 1e3, total.1 * 1e3))
    if !convs.isEmpty { s.console.print(String(format: "convolutions: %.3f ms a step", convolutions * 1e3)) }
}

/// An engine trainer for the session's model, loss, optimizer, schedule and history, or an
/// error naming what is missing. The session takes the history back when the command ends.
func makeTrainer(_ s: Session, training: Bool = true) throws -> Trainer {
    let model = try s.requireModel()
    guard let loss = s.loss else { throw EngineError("no loss chosen: use 'loss cross_entropy' (see 'help loss')") }
    if training && s.optimizer == nil { throw EngineError("no optimizer chosen: use 'optim sgd lr=0.01' (see 'help optim')") }
    let trainer = Trainer(model: model, loss: loss, optimizer: s.optimizer, schedule: s.schedule, history: s.history, random: s.random)
    trainer.hooks.shouldStop = { s.interruptRequested() }
    trainer.communicator = Distributed.communicator
    return trainer
}

/// The folder under tensorboard=DIR for a run: its name made a safe file name (letters,
/// digits, '.', '-', '_'; others '_'; at most 100), else run-ID, else run-TIME when the run
/// is not recorded.
func tensorBoardRunFolder(name: String, id: Int64?) -> String {
    let safe = String(name.unicodeScalars.prefix(100).map { c -> Character in
        c.isASCII && (CharacterSet.alphanumerics.contains(c) || "._-".unicodeScalars.contains(c)) ? Character(c) : "_"
    })
    if !safe.isEmpty, safe.contains(where: { $0 != "." && $0 != "_" }) { return safe }
    if let id { return "run-\(id)" }
    return "run-" + String(Int(Date().timeIntervalSince1970))
}

/// A model whose last layer does not suit its loss trains badly without an error: softmax
/// before cross_entropy (which applies log-softmax itself, as nn.CrossEntropyLoss) is softmax
/// twice, and nll wants log-probabilities.
func outputWarning(model: Sequential, loss: Loss) -> String? {
    guard let last = model.layers.last?.name else { return nil }
    let lossName = loss.definition.split(separator: " ").first.map(String.init) ?? ""
    switch (last, lossName) {
    case ("softmax", "cross_entropy"):
        return "the model ends in softmax, and cross_entropy applies softmax itself (as nn.CrossEntropyLoss): softmax twice trains badly; remove the last softmax (or end in log_softmax and use 'loss nll')"
    case ("softmax", "nll"):
        return "the model ends in softmax, but nll expects log-probabilities: end in log_softmax instead"
    default:
        return nil
    }
}

/// `train`: the engine runs the loop; the shell wires its hooks to the progress bar, the
/// epoch line and the CSV log.
private func train(_ inv: Invocation, _ o: Options, _ s: Session) throws {
    try expectArguments(inv, 0...0, usage: "train epochs=N batch=B [shuffle=true]")
    let epochs = try o.int("epochs", min: 0, max: 1_000_000)
    let batch = try o.int("batch", min: 1, max: 1 << 20)
    let shuffle = try o.bool("shuffle")
    let log = o.has("log") ? o.string("log") : nil
    if let log { try checkWritableFolder(log) }
    let board = o.has("tensorboard") ? o.string("tensorboard") : nil
    if board?.isEmpty == true { throw EngineError("tensorboard= needs a folder") }
    let loggedFrom = s.history.count
    var logStarted = false
    let trainer = try makeTrainer(s)
    let data = try s.requireDataset("train")
    let validation = s.datasets["val"], test = s.datasets["test"]
    if o.has("clip") {
        let clip = try o.double("clip", min: 0, minExclusive: true)
        trainer.clipNorm = clip
    }
    let bestFile = o.has("save_best") ? o.string("save_best") : nil
    if let bestFile { try checkWritableFolder(bestFile) }
    if o.has("early_stop") || bestFile != nil || o.has("monitor") {
        let patience = o.has("early_stop") ? try o.int("early_stop", min: 1, max: 1_000_000) : nil
        let monitor = o.has("monitor") ? o.string("monitor") : (validation != nil ? "val_loss" : test != nil ? "test_loss" : "train_loss")
        trainer.earlyStopping = EarlyStopping(monitor: monitor, patience: patience)
    }
    if let warning = outputWarning(model: trainer.model, loss: trainer.loss) { s.console.writeError("warning: \(warning)\n") }
    let progress = ProgressReporter(console: s.console, samplesPerEpoch: data.count)
    let runName = o.has("name") ? o.string("name") : ""
    guard runName.count <= 200 else { throw EngineError("name= is \(runName.count) characters: a run's name is at most 200") }
    s.runs.begin(runRecord(s, trainer, command: inv, name: runName))
    let started = DispatchTime.now().uptimeNanoseconds
    var status = "failed"
    defer { s.runs.end(status: status, seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9) }
    // A stream that fails mid-train (standard output closed) ends mlpsh at once: the run ends
    // as failed first.
    StandardStreams.beforeFailing = { s.runs.end(status: "failed", seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9) }
    defer { StandardStreams.beforeFailing = nil }
    // Each run in a folder of its own under DIR, as SummaryWriter's log_dir: TensorBoard shows
    // one curve a run.
    let events = try board.flatMap { dir in
        Distributed.isLead ? try TensorBoardWriter(folder: dir + "/" + tensorBoardRunFolder(name: runName, id: s.runs.lastRun), option: dir) : nil
    }
    if let log { s.runs.wrote(log) }
    if let events { s.runs.wrote(events.path) }
    trainer.hooks.batchEnded = { progress.update($0) }
    trainer.hooks.epochEnded = { [unowned trainer] result in
        progress.clear()
        // Recorded before it is printed: an epoch on the screen is in the run history.
        s.runs.epoch(result)
        s.console.print(result.line)
        if let events {
            var scalars: [(tag: String, value: Float)] = [("loss/train", Float(result.trainLoss)), ("accuracy/train", Float(result.trainAccuracy))]
            if let l = result.valLoss { scalars.append(("loss/val", Float(l))) }
            if let a = result.valAccuracy { scalars.append(("accuracy/val", Float(a))) }
            if let l = result.testLoss { scalars.append(("loss/test", Float(l))) }
            if let a = result.testAccuracy { scalars.append(("accuracy/test", Float(a))) }
            scalars.append(("lr", result.learningRate))
            try events.scalars(step: result.epoch, scalars)
        }
        // The log: written whole (header and the first row) at the first epoch, then a row appended an epoch.
        guard let log else { return }
        if logStarted {
            try AtomicFile.append(csvRow(result, validation: validation != nil), to: log)
        } else {
            try AtomicFile.write(csvHeader(validation: validation != nil)
                                 + trainer.history[loggedFrom...].map { csvRow($0, validation: validation != nil) }.joined(), to: log)
            logStarted = true
        }
    }
    if let bestFile {
        // The best epoch so far, written whole and atomically: weights, history and what resuming needs.
        trainer.hooks.bestEpoch = { [unowned trainer] _ in
            try Checkpoint.file(model: trainer.model, history: trainer.history, loss: trainer.loss, optimizer: trainer.optimizer,
                                schedule: trainer.schedule, random: trainer.random, training: true, version: mlpshVersion,
                                normalization: s.normalization).write(to: bestFile)
            s.runs.wrote(bestFile)
        }
    }
    defer {
        progress.clear()
        s.history = trainer.history
    }
    switch try trainer.fit(data, validation: validation, test: test, epochs: epochs, batch: batch, shuffle: shuffle) {
    case .finished:
        status = "finished"
        s.console.print("Done")
    case .stoppedEarly(let best, let monitor, let patience):
        status = "finished"
        let value = trainer.history.first { $0.epoch == best }?.value(of: monitor)?.value
        let shown = value.map { monitor.hasSuffix("acc") ? String(format: "%.1f%%", $0 * 100) : String(format: "%.5f", $0) } ?? "?"
        s.console.print("stopped early: \(monitor) has not improved for \(patience) epoch\(patience == 1 ? "" : "s"); the best was epoch \(best) (\(monitor) \(shown))\(bestFile.map { ", saved in \(printable($0))" } ?? "")")
        s.console.print("Done")
    case .interrupted(let e, let done, let of):
        status = "interrupted"
        progress.clear()
        s.console.print("interrupted in epoch \(e) after \(done) of \(of) batches; \(trainer.history.count) epochs are complete")
    }
    if let group = Distributed.group, let model = s.model {
        // What data parallelism cost: rank 0's time in the gradients' allreduce.
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        s.console.print(String(format: "allreduce: %.3f s of %.3f s (%.1f%%) on %d ranks, %.2f MB a batch",
                               trainer.communicationSeconds, seconds, 100 * trainer.communicationSeconds / max(seconds, 1e-9),
                               group.size, Double(model.gradientStorage.count * 4) / 1e6))
    }
}

/// What the run history keeps of a `train` about to run: its settings, the data and what
/// the session ran to get there.
private func runRecord(_ s: Session, _ t: Trainer, command: Invocation, name: String) -> RunStore.Run {
    let data = s.datasets.keys.sorted().map { key -> String in
        let d = s.datasets[key]!
        return "\(key): \(d.summary), \(d.count) samples, checksum \(String(format: "%08x", d.checksum))"
    }
    return RunStore.Run(id: 0, name: name, started: Date().timeIntervalSince1970, ended: nil, status: "running", seconds: nil,
                        source: (s.transcript + [([Word(command.name)] + command.words).map(\.scriptText).joined(separator: " ")])
                            .joined(separator: "\n"),
                        command: command.words.map(\.scriptText).joined(separator: " "),
                        model: t.model.definition, loss: t.loss.definition, optimizer: t.optimizer?.definition ?? "",
                        schedule: t.schedule.definition, seed: Int64(bitPattern: s.random.seed), threads: Int64(BLAS.threads),
                        datasets: data.joined(separator: "\n"), files: [])
}

/// Every sample's outputs in evaluation mode, a CSV row each, written atomically.
func writeLogits(_ model: Sequential, _ data: Dataset, batch: Int, to path: String) throws {
    let training = model.isTraining
    model.isTraining = false
    defer { model.isTraining = training }
    let loader = BatchLoader(dataset: data, batchSize: batch)
    var text = ""
    for b in 0..<loader.batchCount {
        let n = loader.load(batch: b)
        let out = model.forward(loader.x)
        for r in 0..<n {
            let row = UnsafeBufferPointer(start: out.data + r * out.cols, count: out.cols)
            text += row.map { "\($0)" }.joined(separator: ",") + "\n"
        }
    }
    try AtomicFile.write(text, to: path)
}
