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
        if let optimizer {
            let mine = model.parameters
            if optimizer.parameters.count != mine.count || !zip(optimizer.parameters, mine).allSatisfy({ $0 === $1 }) {
                optimizer.attach(mine)
            }
        }
    }

    /// Checks that `data` fits the model: its sample size and its number of classes.
    public func checkFit(_ data: Dataset, name: String) throws { try model.checkFit(data, name: name) }

    /// Trains `epochs` more epochs on `train`, in batches of `batch` (a new order each epoch
    /// when `shuffle`), evaluating on `test` after each when given. Each finished epoch is
    /// appended to `history` and handed to `hooks.epochEnded`. Numbering goes on from the history.
    @discardableResult
    public func fit(_ train: Dataset, test: Dataset? = nil, epochs: Int, batch: Int, shuffle: Bool) throws -> FitOutcome {
        guard let optimizer else { throw EngineError("no optimizer chosen: use 'optim sgd lr=0.01' (see 'help optim')") }
        guard train.count > 0 else { throw EngineError("the training set is empty") }
        try checkFit(train, name: "train")
        if let test { try checkFit(test, name: "test") }
        try model.checkBatch(min(batch, train.count))
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
        }
        return .finished
    }

    /// One pass over `loader` in training mode. Returns the mean of the batch losses and
    /// the accuracy counted on the batches as they were trained. A loss that is not finite
    /// stops the pass before that batch's update, leaving the weights as the batch before
    /// left them; `hooks.shouldStop` stops it after a batch (TrainingStop.interrupted).
    public func trainEpoch(_ loader: BatchLoader, epoch: Int, shuffle: Bool) throws -> (loss: Double, accuracy: Double) {
        guard let optimizer else { throw EngineError("no optimizer chosen: use 'optim sgd lr=0.01' (see 'help optim')") }
        model.isTraining = true
        loader.start(shuffle: shuffle, random: random)
        var lossSum: Double = 0, correct = 0, seen = 0
        let batches = loader.batchCount
        for b in 0..<batches {
            let size = loader.load(batch: b)
            let out = model.forward(loader.x)
            gradient.reshape(out.shape)
            let l = try loss.compute(output: out.data, rows: out.rows, cols: out.cols,
                                     targets: loader.labels, gradient: gradient.data)
            guard l.isFinite else {
                model.zeroGradients()
                model.settleGradients()
                throw EngineError("loss became \(l.isNaN ? "NaN" : "Inf") at epoch \(epoch), batch \(b + 1) (try a smaller lr)")
            }
            correct += countCorrect(out, loader.labels)
            model.zeroGradients()
            model.backward(gradient)
            model.settleGradients()
            try hooks.gradientsReady?(model)
            optimizer.step()
            lossSum += Double(l)
            seen += size
            hooks.batchEnded?(TrainingProgress(epoch: epoch, batch: b + 1, of: batches, samples: seen, runningLoss: lossSum / Double(b + 1)))
            if hooks.shouldStop() {
                throw TrainingStop.interrupted(epoch: epoch, batches: b + 1, of: batches)
            }
        }
        return (lossSum / Double(batches), Double(correct) / Double(seen))
    }

    /// Evaluates on `dataset` in evaluation mode. The loss is the mean of the losses of
    /// batches of `batch` samples, as a DataLoader with that batch size gives; the forward
    /// passes run `chunk` batches at a time.
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
        var lossSum: Double = 0, batches = 0, correct = 0
        for b in 0..<loader.batchCount {
            let size = loader.load(batch: b)
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
            if hooks.shouldStop() {
                throw TrainingStop.interrupted(epoch: history.count, batches: b + 1, of: loader.batchCount)
            }
        }
        return (lossSum / Double(max(batches, 1)), Double(correct) / Double(max(dataset.count, 1)))
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
