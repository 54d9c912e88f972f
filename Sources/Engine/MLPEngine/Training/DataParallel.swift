import Foundation

/// How the processes of a data-parallel job take part in the training loop, as Caffe's
/// P2PSync joins its solver through callbacks: the loop asks it at the few points where ranks
/// meet, and the one-process strategy does nothing at each. The Trainer has no rank branches.
public protocol DataParallel: AnyObject {
    /// Before a training: the ranks agree to start, on the sizes every later collective
    /// depends on, and start from the same weights.
    func beginTraining(_ model: Sequential, samples: Int, testSamples: Int?, batch: Int, epochs: Int, shuffle: Bool) throws
    /// Before an evaluation: the ranks agree to start and on its sizes.
    func beginEvaluation(_ model: Sequential, samples: Int, batch: Int) throws
    /// The epoch's order: every rank takes the same.
    func shareOrder(_ loader: BatchLoader)
    /// The rows of batch `b` this process computes.
    func rows(ofBatch b: Int, in loader: BatchLoader) -> Range<Int>
    /// The batches of an evaluation this process computes, of `count`.
    func evaluationBatches(_ count: Int) -> Range<Int>
    /// Sums per-process counts (a batch's loss, correct answers) into the job's.
    func reduceStatistics(_ values: inout [Double])
    /// Sums the batch's gradients (the model's flat gradient buffer) across the processes.
    func reduceGradients(_ model: Sequential)
    /// Whether the job stops, when this process says `stop`: every process decides alike.
    func agreeToStop(_ stop: Bool) -> Bool
    /// Whether a stop may end an evaluation part-way (only when no process waits on another).
    var stopsWithinEvaluation: Bool { get }
    /// After an epoch's training: state each process keeps apart (batch norm's running
    /// statistics) made the same.
    func endEpoch(_ model: Sequential)
    /// Seconds spent summing gradients, since the strategy was made.
    var communicationSeconds: Double { get }
}

/// One process: every batch whole, nothing to agree on.
public final class SingleProcess: DataParallel {
    public init() {}
    public func beginTraining(_ model: Sequential, samples: Int, testSamples: Int?, batch: Int, epochs: Int, shuffle: Bool) {}
    public func beginEvaluation(_ model: Sequential, samples: Int, batch: Int) {}
    public func shareOrder(_ loader: BatchLoader) {}
    public func rows(ofBatch b: Int, in loader: BatchLoader) -> Range<Int> { loader.batchRows(b) }
    public func evaluationBatches(_ count: Int) -> Range<Int> { 0..<count }
    public func reduceStatistics(_ values: inout [Double]) {}
    public func reduceGradients(_ model: Sequential) {}
    public func agreeToStop(_ stop: Bool) -> Bool { stop }
    public var stopsWithinEvaluation: Bool { true }
    public func endEpoch(_ model: Sequential) {}
    public var communicationSeconds: Double { 0 }
}

/// The ranks of a job (MPI, through a Communicator) training one model: each computes a
/// contiguous share of every batch, its loss gradient weighted by its share, and the summed
/// gradient is the whole batch's (as DistributedDataParallel does). Evaluation is split into
/// contiguous shares of the batches and its sums added.
public final class RankGroup: DataParallel {
    public let communicator: Communicator
    public private(set) var communicationSeconds: Double = 0

    public init(_ communicator: Communicator) { self.communicator = communicator }

    public func beginTraining(_ model: Sequential, samples: Int, testSamples: Int?, batch: Int, epochs: Int, shuffle: Bool) throws {
        let c = communicator
        try c.agreeToStart()
        try c.agreeOnSizes([("the training set's samples", samples), ("the test set's samples", testSamples ?? -1),
                            ("the model's parameters", model.parameterCount), ("batch", batch), ("epochs", epochs),
                            ("shuffle", shuffle ? 1 : 0)])
        guard batch >= c.size else {
            throw EngineError("batch=\(batch) is smaller than the \(c.size) ranks: every rank needs a share of each batch")
        }
        // Every rank starts from rank 0's weights, as DistributedDataParallel does.
        c.broadcastState(of: model)
    }

    public func beginEvaluation(_ model: Sequential, samples: Int, batch: Int) throws {
        try communicator.agreeToStart()
        try communicator.agreeOnSizes([("the evaluated set's samples", samples), ("the model's parameters", model.parameterCount),
                                       ("batch", batch)])
    }

    public func shareOrder(_ loader: BatchLoader) {
        var order = loader.order
        communicator.broadcast(&order, from: 0)
        loader.setOrder(order)
    }

    public func rows(ofBatch b: Int, in loader: BatchLoader) -> Range<Int> {
        loader.share(ofBatch: b, rank: communicator.rank, of: communicator.size)
    }

    public func evaluationBatches(_ count: Int) -> Range<Int> {
        let (rank, size) = (communicator.rank, communicator.size)
        return count * rank / size..<count * (rank + 1) / size
    }

    public func reduceStatistics(_ values: inout [Double]) { communicator.sum(&values) }

    public func reduceGradients(_ model: Sequential) {
        let started = DispatchTime.now().uptimeNanoseconds
        communicator.sum(model.gradientStorage.base, count: model.gradientStorage.count)
        communicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    }

    public func agreeToStop(_ stop: Bool) -> Bool { communicator.whoSays(stop).contains(true) }

    public var stopsWithinEvaluation: Bool { false }

    /// Batch norm's running statistics are each rank's own: rank 0's become everyone's.
    public func endEpoch(_ model: Sequential) { communicator.broadcastState(of: model, parameters: false) }
}
