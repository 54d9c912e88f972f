import Foundation

/// A model and what training it needs, as one safetensors file: the parameters and buffers
/// named as nn.Sequential's state_dict names them, and in `__metadata__` the model described
/// as data (`mlpsh.layers`: a JSON list of `{"layer", "args", "options"}`, a block's layers in
/// its `"blocks"`), its text for people (`mlpsh.model`, never read back when the JSON is
/// there), the history, and optionally the loss, optimizer and its state,
/// schedule and random state, so that training goes on exactly.
///
/// Loading never runs text: every component is rebuilt from its spec by its registry, and
/// the whole file is checked (and every component built) before anything is handed back.
public struct Checkpoint {
    public let model: Sequential
    public let loss: Loss?
    public let optimizer: Optimizer?
    public let schedule: Schedule?
    public let history: [EpochResult]?
    public let randomState: RandomSource?
    /// How the training data was normalised (`normalize`), for what is predicted later.
    public var normalization: Normalization?
    /// Whether `model` was built from the file (true) or is the one the caller passed (false).
    public let isNewModel: Bool
    /// Whether the file was saved to resume training: its optimizer's state was restored.
    public var resumes: Bool { optimizerRestored }
    private let optimizerRestored: Bool
    /// Values to copy into the model's parameters and buffers: `commit` does it.
    private let pending: [(Destination, SafeTensors.Entry)]

    private enum Destination {
        case parameter(Parameter)
        case buffer(Buffer)
    }

    /// The largest counter a file may hold (batches tracked, optimizer steps): 2^53, far past
    /// any training, and far from overflowing.
    public static let maximumCount = 1 << 53

    /// Prefix of the tensors and metadata that are mlpsh's own, not the state_dict's.
    public static let prefix = "mlpsh."

    // MARK: - Saving

    /// The file for a model, its history and, with `training`, the optimizer (required then),
    /// its state, the loss, the schedule and the random state.
    public static func file(model: Sequential, history: [EpochResult], loss: Loss?, optimizer: Optimizer?,
                            schedule: Schedule, random: RandomGenerator, training: Bool, version: String,
                            normalization: Normalization? = nil) throws -> SafeTensors {
        var entries: [SafeTensors.Entry] = model.namedParameters.map { name, p in
            SafeTensors.Entry(name: name, shape: p.shape, floats: p.value.array)
        }
        for (name, b) in model.namedBuffers {
            switch b.values {
            case .f32(let t): entries.append(SafeTensors.Entry(name: name, shape: b.shape, floats: t.array))
            case .i64(let v): entries.append(SafeTensors.Entry(name: name, shape: b.shape, int64s: v))
            }
        }
        var meta: [String: String] = [
            "format": "pt",
            "mlpsh.version": version,
            "mlpsh.layers": try layersJSON(model.specs),
            "mlpsh.model": model.definition,
            "mlpsh.input_shape": model.inputShape.map(String.init).joined(separator: ","),
            "mlpsh.seed": String(random.seed),
            "mlpsh.history": try HistoryCoding.json(history),
        ]
        // The loss, the optimizer's settings and the schedule, so a loaded model can be tested
        // and trained on as it was; with `training`, also the state that resumes exactly.
        if let loss { meta["mlpsh.loss"] = try specJSON(loss.spec) }
        if let optimizer { meta["mlpsh.optimizer"] = try specJSON(optimizer.spec) }
        meta["mlpsh.schedule"] = try specJSON(schedule.spec)
        if let normalization {
            meta["mlpsh.normalize"] = String(decoding: try JSONEncoder().encode(normalization), as: UTF8.self)
        }
        if training {
            guard let optimizer else { throw EngineError("optimizer=true but no optimizer is chosen") }
            optimizer.bind(model.parameters)
            meta["mlpsh.optimizer_steps"] = String(optimizer.steps)
            meta["mlpsh.epochs"] = String(history.count)
            for (name, values) in optimizer.state.sorted(by: { $0.key < $1.key }) {
                entries.append(SafeTensors.Entry(name: prefix + "optimizer." + name, shape: [values.count], floats: values))
            }
            let rng = random.source
            entries.append(SafeTensors.Entry(name: prefix + "random_state", shape: [rng.state.count], uint32s: rng.state))
            meta["mlpsh.random_index"] = String(rng.index)
        }
        return SafeTensors(entries: entries, metadata: meta)
    }

    /// A loss, optimizer or schedule as its metadata holds it: {"name", "args", "options"}.
    static func specJSON(_ spec: Spec) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(spec), as: UTF8.self)
    }

    /// The model's description as `mlpsh.layers` holds it.
    public static func layersJSON(_ specs: [Spec]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.userInfo[Spec.nameIsLayer] = true
        return String(decoding: try encoder.encode(specs), as: UTF8.self)
    }

    // MARK: - Loading

    /// Reads `file` (named `name` in messages) and builds everything it holds. With `model`,
    /// the file's tensors must match that model's names, shapes and dtypes; without, the model
    /// is built from the file's description, on `dataShape` when the file does not say its
    /// input shape. Throws, naming the file, when anything is wrong; `random` is then as it was.
    public static func read(_ file: SafeTensors, name: String, into model: Sequential?, dataShape: [Int]?,
                            registries: Registries = .shared, random: RandomGenerator) throws -> Checkpoint {
        let savedRandom = random.source
        do {
            return try build(file, name: name, into: model, dataShape: dataShape, registries: registries, random: random)
        } catch {
            random.source = savedRandom
            throw error
        }
    }

    /// Saves `model` (and its `history`, and the `loss` it was trained with, when given) to a
    /// safetensors file that PyTorch's `load_state_dict` and `Checkpoint.load` read: the common
    /// case of `file(...)` in one line. The file is written atomically.
    public static func save(_ model: Sequential, to path: String, history: [EpochResult] = [], loss: Loss? = nil) throws {
        try file(model: model, history: history, loss: loss, optimizer: nil, schedule: .none,
                 random: RandomGenerator(seed: 0), training: false, version: engineVersion).write(to: path)
    }

    /// The model saved at `path`, rebuilt from the file alone and with its weights: the common
    /// case of `load(path:into:...)` and `commit()` in one line.
    public static func load(_ path: String, registries: Registries = .shared) throws -> Sequential {
        let checkpoint = try load(path: path, into: nil, dataShape: nil, registries: registries, random: RandomGenerator(seed: 0))
        checkpoint.commit()
        return checkpoint.model
    }

    /// Reads and builds the file at `path`.
    public static func load(path: String, into model: Sequential?, dataShape: [Int]?,
                            registries: Registries = .shared, random: RandomGenerator) throws -> Checkpoint {
        try read(try SafeTensors(path: path), name: path, into: model, dataShape: dataShape, registries: registries, random: random)
    }

    private static func build(_ file: SafeTensors, name: String, into current: Sequential?, dataShape: [Int]?,
                              registries: Registries, random: RandomGenerator) throws -> Checkpoint {
        let meta = file.metadata
        // The description is checked even when it is not used (loading into a defined model):
        // a file that could not be trusted to rebuild is refused whole.
        let described = try modelSpecs(meta, name: name)
        if let described, let bad = described.flatMap(\.flattened).first(where: { !registries.layers.contains($0.name) }) {
            let hint = " (if it comes from a plugin, 'plugin load' it first)"
            throw EngineError("\(name): its metadata does not rebuild: unknown layer '\(bad.name)'\(hint)")
        }
        let history = try meta["mlpsh.history"].map { try HistoryCoding.parse($0, name: name) }
        // Every component is parsed as data and built before the model is touched.
        let loss: Loss? = try meta["mlpsh.loss"].map { text in
            let spec = try componentSpec(text, key: "mlpsh.loss", name: name)
            return try rebuilding(name) { try registries.losses.make(spec) }
        }
        let schedule: Schedule? = try meta["mlpsh.schedule"].map { text in
            let spec = try componentSpec(text, key: "mlpsh.schedule", name: name)
            return try rebuilding(name) { try registries.schedules.make(spec) }
        }
        let optimizer: Optimizer? = try meta["mlpsh.optimizer"].map { text in
            let spec = try componentSpec(text, key: "mlpsh.optimizer", name: name)
            return try rebuilding(name) { try registries.optimizers.make(spec) }
        }
        var randomState: RandomSource?
        if let r = file.entry(prefix + "random_state"), let index = meta["mlpsh.random_index"].flatMap(Int.init) {
            guard r.dtype == "U32", let source = RandomSource(state: r.uint32s, index: index) else {
                throw EngineError("\(name): the saved random state is malformed")
            }
            randomState = source
        }

        let model: Sequential
        if let current {
            model = current
        } else {
            guard let specs = described else {
                throw EngineError("\(name) has no mlpsh model definition: define the model first, then load")
            }
            let shape = try inputShape(meta, name: name) ?? dataShape
            do {
                model = try Sequential.build(specs, inputShape: shape, registries: registries, random: random)
            } catch let e as LayerBuildError {
                let hint = e.message.hasPrefix("unknown") ? " (if it comes from a plugin, 'plugin load' it first)" : ""
                let all = specs.flatMap(\.flattened)
                let layer = all.indices.contains(e.index) ? "layer \(e.index) (\(all[e.index].text)): " : ""
                throw EngineError("\(name): its metadata does not rebuild: \(layer)\(e.message)\(hint)")
            }
        }

        // The tensors: every parameter and buffer present, with its shape and dtype; nothing extra.
        var pending: [(Destination, SafeTensors.Entry)] = []
        for (pname, p) in model.namedParameters {
            let e = try tensor(file, pname, shape: p.shape, dtype: "F32", what: "the model's \(p.name) of layer \(pname.split(separator: ".")[0])", name: name)
            pending.append((.parameter(p), e))
        }
        for (bname, b) in model.namedBuffers {
            let e = try tensor(file, bname, shape: b.shape, dtype: b.dtype, what: "the buffer \(b.name) of layer \(bname.split(separator: ".")[0])", name: name)
            // Integer buffers are counters (num_batches_tracked): from 0 to 2^53, as training
            // could reach; anything else is refused before it can overflow.
            if b.dtype == "I64", let bad = e.int64s.first(where: { $0 < 0 || $0 > Int64(Self.maximumCount) }) {
                throw EngineError("\(name): tensor '\(bname)' holds \(bad), which is not a count from 0 to \(Self.maximumCount)")
            }
            pending.append((.buffer(b), e))
        }
        let known = Set(pending.map(\.1.name))
        if let extra = file.entries.first(where: { !known.contains($0.name) && !$0.name.hasPrefix(prefix) }) {
            throw EngineError("\(name): tensor '\(extra.name)' matches nothing in the model")
        }
        // The optimizer's state comes back only from a file saved to resume (optimizer_steps).
        let resumes = optimizer != nil && meta["mlpsh.optimizer_steps"] != nil
        if let optimizer { optimizer.attach(model.parameters) }
        if let optimizer, resumes {
            var state: [String: [Float]] = [:]
            for e in file.entries where e.name.hasPrefix(prefix + "optimizer.") {
                guard e.dtype == "F32" else { throw EngineError("\(name): tensor '\(e.name)' is \(e.dtype), expected F32") }
                state[String(e.name.dropFirst((prefix + "optimizer.").count))] = e.floats
            }
            let steps = try meta["mlpsh.optimizer_steps"].map { text -> Int in
                guard let n = Int(text), n >= 0, n <= Self.maximumCount else {
                    throw EngineError("\(name): mlpsh.optimizer_steps is not a count from 0 to \(Self.maximumCount)")
                }
                return n
            } ?? 0
            do { try optimizer.restore(state: state, steps: steps) } catch let e as EngineError { throw EngineError("\(name): \(e.message)") }
        }
        let normalization = try meta["mlpsh.normalize"].map { text -> Normalization in
            guard let n = try? JSONDecoder().decode(Normalization.self, from: Data(text.utf8)) else {
                throw EngineError("\(name): mlpsh.normalize in the metadata is not a mean and std")
            }
            do { try n.check(model.inputShape) } catch let e as EngineError { throw EngineError("\(name): \(e.message)") }
            return try Normalization(mean: n.mean, std: n.std)
        }
        var checkpoint = Checkpoint(model: model, loss: loss, optimizer: optimizer, schedule: schedule, history: history,
                                    randomState: randomState, isNewModel: current == nil, optimizerRestored: resumes, pending: pending)
        checkpoint.normalization = normalization
        return checkpoint
    }

    /// Copies the file's values into the model's parameters and buffers. Cannot fail: every
    /// shape and dtype was checked by `read`.
    public func commit() {
        for (destination, e) in pending {
            switch destination {
            case .parameter(let p):
                let values = e.floats
                values.withUnsafeBufferPointer { p.value.data.update(from: $0.baseAddress!, count: values.count) }
            case .buffer(let b):
                switch b.values {
                case .f32(let t):
                    let values = e.floats
                    values.withUnsafeBufferPointer { t.data.update(from: $0.baseAddress!, count: values.count) }
                case .i64: b.values = .i64(e.int64s)   // counters, checked by read
                }
            }
        }
    }

    private static func tensor(_ file: SafeTensors, _ tname: String, shape: [Int], dtype: String, what: String,
                               name: String) throws -> SafeTensors.Entry {
        guard let e = file.entry(tname) else { throw EngineError("\(name) has no tensor '\(tname)' for \(what)") }
        guard e.dtype == dtype else { throw EngineError("\(name): tensor '\(tname)' is \(e.dtype), expected \(dtype)") }
        guard e.shape == shape else { throw EngineError("\(name): tensor '\(tname)' has shape \(e.shape), the model expects \(shape)") }
        return e
    }

    /// The model's layers: from `mlpsh.layers` (JSON, blocks as nested lists), or, in files
    /// written before it, from the lines of `mlpsh.model`, each read as data. `mlpsh.model` is
    /// for people: when `mlpsh.layers` is there it is not read.
    public static func modelSpecs(_ meta: [String: String], name: String) throws -> [Spec]? {
        guard let json = meta["mlpsh.layers"] else {
            return try meta["mlpsh.model"].map { t in
                try t.split(separator: "\n", omittingEmptySubsequences: false).enumerated().map { i, line in
                    try Spec(parsing: String(line), what: "\(name): line \(i + 1) of mlpsh.model")
                }
            }
        }
        guard let specs = try? JSONDecoder().decode([Spec].self, from: Data(json.utf8)) else {
            throw EngineError("\(name): mlpsh.layers in the metadata is not a list of layers")
        }
        for (i, spec) in specs.flatMap(\.flattened).enumerated() {
            // The same rules as text, and each word one word: its text must read back as itself.
            let what = "\(name): layer \(i) of mlpsh.layers"
            var flat = spec
            flat.blocks = []
            guard try Spec(parsing: flat.text, what: what) == flat else {
                throw EngineError("\(what) has a word with spaces, tabs or '=' in it, or an empty one")
            }
        }
        return specs
    }

    /// A loss, optimizer or schedule as its metadata gives it: a JSON spec, or in files
    /// written before 0.6, its text (a name and options, read as data).
    static func componentSpec(_ text: String, key: String, name: String) throws -> Spec {
        let spec: Spec
        if text.hasPrefix("{") {
            guard let decoded = try? JSONDecoder().decode(Spec.self, from: Data(text.utf8)), decoded.blocks.isEmpty else {
                throw EngineError("\(name): \(key) in the metadata is not a component's description")
            }
            // The same rules as text: each word one word, reading back as itself.
            guard try Spec(parsing: decoded.text, what: "\(name): \(key)") == decoded else {
                throw EngineError("\(name): \(key) has a word with spaces, tabs or '=' in it, or an empty one")
            }
            spec = decoded
        } else {
            spec = try Spec(parsing: text, what: "\(name): \(key)")
        }
        guard spec.args.isEmpty else { throw EngineError("\(name): \(key) holds '\(spec.args[0])', which is not KEY=VALUE") }
        return spec
    }

    /// The input shape `mlpsh.input_shape` gives, checked: at most 8 dimensions, 2^24 values.
    public static func inputShape(_ meta: [String: String], name: String) throws -> [Int]? {
        guard let text = meta["mlpsh.input_shape"], !text.isEmpty else { return nil }
        let dims = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) }
        guard dims.allSatisfy({ $0 != nil && $0! >= 1 && $0! <= 1 << 24 }), dims.count <= 8 else {
            throw EngineError("\(name): mlpsh.input_shape '\(text)' is not a shape")
        }
        let shape = dims.map { $0! }
        let (_, overflow) = shape.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o || p > 1 << 24)
        }
        guard !overflow else { throw EngineError("\(name): mlpsh.input_shape '\(text)' is too large") }
        return shape
    }

    private static func rebuilding<T>(_ name: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as EngineError {
            let hint = e.message.hasPrefix("unknown") ? " (if it comes from a plugin, 'plugin load' it first)" : ""
            throw EngineError("\(name): its metadata does not rebuild: \(e.message)\(hint)")
        }
    }
}
