import Foundation

/// Trains and evaluates a model: the one owner of the training loop, as Caffe's Solver is.
/// It runs the epochs, shuffles, applies the schedule, evaluates after each epoch, keeps the
/// history, stops on a loss that is not finite, and honours a cooperative stop; callers join
/// the loop through `hooks`. It owns the loss-gradient buffer; everything else lives in the
/// layers, so a batch allocates nothing.
public final class Trainer {
    public let model: Sequential
    public let loss: Loss
    /// Needed only for training; evaluation runs without one.
    public let optimizer: Optimizer?
    public var schedule: Schedule
    /// One entry per finished epoch; its count is the next epoch's number.
    public var history: [EpochResult]
    /// Shuffling (and dropout, through the layers that hold it) draw from this source.
    public let random: RandomGenerator
    public var hooks = TrainingHooks()
    /// How the processes of a data-parallel job share the work: one process by default.
    public var parallel: DataParallel = SingleProcess()
    /// The ranks training this model together: a group of more than one trains as one
    /// (RankGroup), each rank a share of every batch, the gradients summed before each update,
    /// so the update is the one-process update for the same batch. Set from
    /// `Distributed.communicator` by the shell.
    public var communicator: Communicator? {
        didSet { parallel = communicator.flatMap { $0.size > 1 ? RankGroup($0) : nil } ?? SingleProcess() }
    }
    /// Seconds spent summing gradients across ranks, since the communicator was set.
    public var communicationSeconds: Double { parallel.communicationSeconds }
    private let gradient = Tensor()
    /// The evaluation loader, kept between epochs so its buffer is not allocated (and
    /// faulted in) again each time.
    private var evaluationLoader: BatchLoader?

    public init(model: Sequential, loss: Loss, optimizer: Optimizer?, schedule: Schedule = .none,
                history: [EpochResult] = [], random: RandomGenerator) {
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.schedule = schedule
        self.history = history
        self.random = random
        // An optimizer bound to other parameters (or none) is bound to this model's; one
        // already bound to them keeps its state (momentum, moments).
        optimizer?.bind(model.parameters)
    }

    /// Checks that `data` fits the model: its sample size and its number of classes.
    public func checkFit(_ data: Dataset, name: String) throws { try model.checkFit(data, name: name) }

    /// Clips the gradients before each update so their global L2 norm is at most this
    /// (torch.nn.utils.clip_grad_norm_); nil: no clipping.
    public var clipNorm: Double?
    /// Stops when an epoch figure stops improving, and tells `hooks.bestEpoch` of each best.
    public var earlyStopping: EarlyStopping?

    /// Trains `epochs` more epochs on `train`, in batches of `batch` (a new order each epoch
    /// when `shuffle`), evaluating on `validation` and `test` after each when given. Each
    /// finished epoch is appended to `history` and handed to `hooks.epochEnded`. Numbering goes
    /// on from the history.
    @discardableResult
    public func fit(_ train: Dataset, validation: Dataset? = nil, test: Dataset? = nil, epochs: Int, batch: Int,
                    shuffle: Bool) throws -> FitOutcome {
        guard let optimizer else { throw EngineError("no optimizer chosen", hint: "use 'optim sgd lr=0.01' (see 'help optim')") }
        guard train.count > 0 else { throw EngineError("the training set is empty") }
        try checkFit(train, name: "train")
        if let test { try checkFit(test, name: "test") }
        if let validation { try checkFit(validation, name: "val") }
        if let stopping = earlyStopping {
            guard let figure = EpochResult(epoch: 0, trainLoss: 0, trainAccuracy: 0, learningRate: 0, seconds: 0).value(of: stopping.monitor) else {
                throw EngineError("monitor=\(stopping.monitor) is not one of val_loss, val_acc, test_loss, test_acc, train_loss, train_acc")
            }
            _ = figure
            if stopping.monitor.hasPrefix("val_") && validation == nil {
                throw EngineError("monitor=\(stopping.monitor) needs a validation set", hint: "split one off with 'data val from=train fraction=0.1'")
            }
            if stopping.monitor.hasPrefix("test_") && test == nil { throw EngineError("monitor=\(stopping.monitor) needs a test set") }
        }
        var best: (epoch: Int, value: Double)?
        var sinceBest = 0
        try model.checkBatch(min(batch, train.count))
        try parallel.beginTraining(model, samples: train.count, testSamples: test?.count, batch: batch, epochs: epochs, shuffle: shuffle)
        let loader = BatchLoader(dataset: train, batchSize: batch)
        for _ in 0..<epochs {
            let epoch = history.count
            let started = DispatchTime.now().uptimeNanoseconds
            optimizer.learningRate = schedule.rate(epoch, optimizer.baseLearningRate)
            var result = EpochResult(epoch: epoch, trainLoss: 0, trainAccuracy: 0, learningRate: optimizer.learningRate, seconds: 0)
            do {
                let r = try trainEpoch(loader, epoch: epoch, shuffle: shuffle)
                result.trainLoss = r.loss
                result.trainAccuracy = r.accuracy
                parallel.endEpoch(model)
                if let validation {
                    let v = try evaluate(validation, batch: batch)
                    result.valLoss = v.loss
                    result.valAccuracy = v.accuracy
                }
                if let test {
                    let t = try evaluate(test, batch: batch)
                    result.testLoss = t.loss
                    result.testAccuracy = t.accuracy
                }
            } catch TrainingStop.interrupted(let e, let done, let of) {
                return .interrupted(epoch: e, batches: done, of: of)
            }
            result.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            history.append(result)
            try hooks.epochEnded?(result)
            guard let stopping = earlyStopping, let (v, higher) = result.value(of: stopping.monitor), let value = v else { continue }
            if best == nil || (higher ? value > best!.value : value < best!.value) {
                best = (result.epoch, value)
                sinceBest = 0
                try hooks.bestEpoch?(result)
            } else {
                sinceBest += 1
                if let patience = stopping.patience, sinceBest >= patience {
                    return .stoppedEarly(best: best!.epoch, monitor: stopping.monitor, patience: patience)
                }
            }
        }
        return .finished
    }

    /// One pass over `loader` in training mode. Returns the mean of the batch losses and
    /// the accuracy counted on the batches as they were trained. A loss that is not finite
    /// stops the pass before that batch's update, leaving the weights as the batch before
    /// left them; `hooks.shouldStop` stops it after a batch (TrainingStop.interrupted).
    ///
    /// With several processes (`parallel`), each takes the same order and its own share of
    /// each batch; its loss gradient is weighted by its share of the batch, so the summed
    /// gradient is the whole batch's mean gradient. The batch loss, the correct count and a
    /// stop are summed too, so every process decides alike.
    public func trainEpoch(_ loader: BatchLoader, epoch: Int, shuffle: Bool) throws -> (loss: Double, accuracy: Double) {
        guard let optimizer else { throw EngineError("no optimizer chosen", hint: "use 'optim sgd lr=0.01' (see 'help optim')") }
        model.isTraining = true
        loader.start(shuffle: shuffle, random: random)
        if shuffle { parallel.shareOrder(loader) }
        var lossSum: Double = 0, correct = 0, seen = 0
        let batches = loader.batchCount
        for b in 0..<batches {
            let total = loader.batchRows(b).count
            let rows = parallel.rows(ofBatch: b, in: loader)
            let size = loader.load(rows: rows)
            var batchLoss: Double = 0, right = 0
            model.zeroGradients()
            if size > 0 {
                let out = model.forward(loader.x)
                gradient.reshape(out.shape)
                let l = try loss.compute(output: out.data, rows: out.rows, cols: out.cols,
                                         targets: loader.labels, gradient: gradient.data)
                batchLoss = Double(l)
                right = countCorrect(out, loader.labels)
                if size < total {
                    // This process's share of the batch mean.
                    batchLoss *= Double(size) / Double(total)
                    let weight = Float(size) / Float(total), g = gradient.data
                    for i in 0..<gradient.count { g[i] *= weight }
                }
            }
            var stats = [batchLoss, Double(right)]
            parallel.reduceStatistics(&stats)
            (batchLoss, right) = (stats[0], Int(stats[1]))
            guard batchLoss.isFinite else {
                model.zeroGradients()
                model.settleGradients()
                throw EngineError("loss became \(batchLoss.isNaN ? "NaN" : "Inf") at epoch \(epoch), batch \(b + 1) (try a smaller lr)")
            }
            correct += right
            if size > 0 { model.backward(gradient) }
            model.settleGradients()
            parallel.reduceGradients(model)
            if let clipNorm { clipGradients(to: clipNorm) }
            try hooks.gradientsReady?(model)
            optimizer.step()
            lossSum += batchLoss
            seen += total
            hooks.batchEnded?(TrainingProgress(epoch: epoch, batch: b + 1, of: batches, samples: seen, runningLoss: lossSum / Double(b + 1)))
            if parallel.agreeToStop(hooks.shouldStop()) {
                throw TrainingStop.interrupted(epoch: epoch, batches: b + 1, of: batches)
            }
        }
        return (lossSum / Double(batches), Double(correct) / Double(seen))
    }

    /// Evaluates on `dataset` in evaluation mode. The loss is the mean of the losses of
    /// batches of `batch` samples, as a DataLoader with that batch size gives; the forward
    /// passes run `chunk` batches at a time. With several processes, each evaluates a
    /// contiguous share of the batches, and the sums are added up.
    public func evaluate(_ dataset: Dataset, batch: Int, chunk: Int = 16) throws -> (loss: Double, accuracy: Double) {
        model.isTraining = false
        defer { model.isTraining = true }
        // As many batches a pass as keep all the layers' outputs within 2^24 floats, at most `chunk`.
        let fit = max(1, min(chunk, (1 << 24) / max(1, batch * model.activationWidth)))
        let loader: BatchLoader
        if let l = evaluationLoader, l.dataset === dataset, l.batchSize == batch * fit {
            loader = l
        } else {
            loader = BatchLoader(dataset: dataset, batchSize: batch * fit)
            evaluationLoader = loader
        }
        try parallel.beginEvaluation(model, samples: dataset.count, batch: batch)
        // This process's batches (all of them, alone).
        let share = parallel.evaluationBatches((dataset.count + batch - 1) / batch)
        let mine = min(dataset.count, share.lowerBound * batch)..<min(dataset.count, share.upperBound * batch)
        var lossSum: Double = 0, batches = 0, correct = 0
        var first = mine.lowerBound, pass = 0
        let passes = (mine.count + loader.batchSize - 1) / loader.batchSize
        while first < mine.upperBound {
            let size = loader.load(rows: first..<min(first + loader.batchSize, mine.upperBound))
            first += size
            pass += 1
            let out = model.forward(loader.x)
            var start = 0
            while start < size {
                let rows = min(batch, size - start)
                lossSum += Double(try loss.compute(output: out.data + start * out.cols, rows: rows, cols: out.cols,
                                                   targets: loader.labels + start, gradient: nil))
                batches += 1
                start += rows
            }
            correct += countCorrect(out, loader.labels)
            if parallel.stopsWithinEvaluation && hooks.shouldStop() {
                throw TrainingStop.interrupted(epoch: history.count, batches: pass, of: passes)
            }
        }
        var sums = [lossSum, Double(batches), Double(correct)]
        parallel.reduceStatistics(&sums)
        (lossSum, batches, correct) = (sums[0], Int(sums[1]), Int(sums[2]))
        if !parallel.stopsWithinEvaluation, parallel.agreeToStop(hooks.shouldStop()) {
            throw TrainingStop.interrupted(epoch: history.count, batches: passes, of: passes)
        }
        return (lossSum / Double(max(batches, 1)), Double(correct) / Double(max(dataset.count, 1)))
    }

    /// Scales the gradients so that their global L2 norm is at most `maxNorm`, as
    /// torch.nn.utils.clip_grad_norm_: by maxNorm / (norm + 1e-6) when that is below 1.
    /// Returns the norm before clipping.
    @discardableResult
    public func clipGradients(to maxNorm: Double) -> Double {
        let g = model.gradientStorage.base, n = model.gradientStorage.count
        var sum = 0.0
        for i in 0..<n { sum += Double(g[i]) * Double(g[i]) }
        let norm = sum.squareRoot(), coefficient = maxNorm / (norm + 1e-6)
        if coefficient < 1 {
            let c = Float(coefficient)
            for i in 0..<n { g[i] *= c }
        }
        return norm
    }

    /// The rows whose largest output (the first, on ties, as torch.max) is the target.
    private func countCorrect(_ out: Tensor, _ labels: UnsafePointer<Int32>) -> Int {
        var correct = 0
        for r in 0..<out.rows where argmax(out.row(r), out.cols) == Int(labels[r]) { correct += 1 }
        return correct
    }
}

/// The index of the largest of n values, the first on ties.
@inline(__always)
public func argmax(_ p: UnsafePointer<Float>, _ n: Int) -> Int {
    var best = 0
    for j in 1..<max(n, 1) where p[j] > p[best] { best = j }
    return best
}
