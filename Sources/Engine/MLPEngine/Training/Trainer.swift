/// The figures of one training epoch, as the epoch line prints them.
public struct EpochResult: Equatable, Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var testLoss: Double?
    public var testAccuracy: Double?
    public var learningRate: Float
    public var seconds: Double

    public init(epoch: Int, trainLoss: Double, trainAccuracy: Double, testLoss: Double? = nil,
                testAccuracy: Double? = nil, learningRate: Float, seconds: Double) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.testLoss = testLoss
        self.testAccuracy = testAccuracy
        self.learningRate = learningRate
        self.seconds = seconds
    }
}

/// Where a pass over the data is, for progress bars: batch `batch` of `of` done, with the
/// running mean loss.
public struct TrainingProgress {
    public let epoch: Int
    public let batch: Int
    public let of: Int
    public let samples: Int
    public let runningLoss: Double
}

/// Why a pass ended early.
public enum TrainingStop: Error {
    /// The user interrupted after `batches` batches of the epoch.
    case interrupted(epoch: Int, batches: Int, of: Int)
}

/// Trains and evaluates a model with a loss and an optimizer. It owns the loss-gradient
/// buffer; everything else lives in the layers, so a batch allocates nothing.
public final class Trainer {
    public let model: Sequential
    public let loss: Loss
    /// Needed only for training; evaluation runs without one.
    public let optimizer: Optimizer?
    private let gradient = Tensor()

    public init(model: Sequential, loss: Loss, optimizer: Optimizer?) {
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
    }

    /// One pass over `loader` in training mode. Returns the mean of the batch losses and
    /// the accuracy counted on the batches as they were trained.
    ///
    /// `check` is called after each batch; returning false stops the pass (an interrupt),
    /// leaving the weights as the last finished batch left them.
    public func trainEpoch(_ loader: BatchLoader, epoch: Int, shuffle: Bool, random: RandomGenerator,
                           check: (TrainingProgress) -> Bool) throws -> (loss: Double, accuracy: Double) {
        guard let optimizer else { throw EngineError("no optimizer chosen: use 'optim sgd lr=0.01' (see 'help optim')") }
        model.isTraining = true
        loader.start(shuffle: shuffle, random: random)
        var lossSum: Double = 0, correct = 0, seen = 0
        let batches = loader.batchCount
        for b in 0..<batches {
            let size = loader.load(batch: b)
            let out = model.forward(loader.x)
            gradient.reshape(rows: out.rows, cols: out.cols)
            let l = try loss.compute(output: out.data, rows: out.rows, cols: out.cols,
                                     targets: loader.labels, gradient: gradient.data)
            guard l.isFinite else {
                model.zeroGradients()
                throw EngineError("loss became \(l.isNaN ? "NaN" : "Inf") at epoch \(epoch), batch \(b + 1) (try a smaller lr)")
            }
            correct += countCorrect(out, loader.labels)
            model.backward(gradient)
            optimizer.step()
            lossSum += Double(l)
            seen += size
            if !check(TrainingProgress(epoch: epoch, batch: b + 1, of: batches, samples: seen, runningLoss: lossSum / Double(b + 1))) {
                throw TrainingStop.interrupted(epoch: epoch, batches: b + 1, of: batches)
            }
        }
        return (lossSum / Double(batches), Double(correct) / Double(seen))
    }

    /// Evaluates on `dataset` in evaluation mode. The loss is the mean of the losses of
    /// batches of `batch` samples, as a DataLoader with that batch size gives; the forward
    /// passes run `chunk` batches at a time.
    public func evaluate(_ dataset: Dataset, batch: Int, chunk: Int = 16,
                         check: (TrainingProgress) -> Bool = { _ in true }) throws -> (loss: Double, accuracy: Double) {
        model.isTraining = false
        defer { model.isTraining = true }
        // As many batches a pass as fit in 2^24 floats a buffer, at most `chunk`.
        let fit = max(1, min(chunk, (1 << 24) / max(1, batch * model.maxWidth)))
        let loader = BatchLoader(dataset: dataset, batchSize: batch * fit)
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
            if !check(TrainingProgress(epoch: 0, batch: b + 1, of: loader.batchCount, samples: b * loader.batchSize + size,
                               runningLoss: lossSum / Double(batches))) {
                throw TrainingStop.interrupted(epoch: 0, batches: b + 1, of: loader.batchCount)
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
