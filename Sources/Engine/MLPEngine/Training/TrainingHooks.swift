/// How a caller joins the training loop, and what the loop tells it.

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

/// How `fit` ended: every epoch done, or stopped by `shouldStop` part-way.
public enum FitOutcome: Equatable {
    case finished
    /// Stopped after `batches` of `of` batches of epoch `epoch`; the epochs before it are in
    /// the history, and the weights are those the last finished batch left.
    case interrupted(epoch: Int, batches: Int, of: Int)
    /// Stopped early: `monitor` had not improved for `patience` epochs since epoch `best`.
    case stoppedEarly(best: Int, monitor: String, patience: Int)
}

/// When a training stops before its epochs are done, and which epoch is the best: Keras's
/// EarlyStopping. `monitor` is an epoch figure ("val_loss", "val_acc", "test_loss", ...);
/// the best epoch is the one with its lowest loss or highest accuracy (the first on ties).
public struct EarlyStopping: Equatable {
    public var monitor: String
    /// Epochs without improvement before stopping; nil: never stop, only track the best.
    public var patience: Int?

    public init(monitor: String, patience: Int?) {
        self.monitor = monitor
        self.patience = patience
    }
}

/// The points at which a caller joins the training loop, in the manner of Caffe's solver
/// callbacks. All are optional; the loop runs the same without them.
public struct TrainingHooks {
    /// After a batch's gradients are complete (summed across the ranks when several train,
    /// see DataParallel) and before the optimizer's step: to inspect or clip them (the
    /// model's `gradientStorage` is one flat buffer).
    public var gradientsReady: ((Sequential) throws -> Void)?
    /// After each training batch: progress.
    public var batchEnded: ((TrainingProgress) -> Void)?
    /// After each epoch, once its result is in the history: the printed line, a log.
    public var epochEnded: ((EpochResult) throws -> Void)?
    /// After an epoch that is the best so far by `EarlyStopping.monitor` (save_best).
    public var bestEpoch: ((EpochResult) throws -> Void)?
    /// Polled after every batch, in training and evaluation; true stops after that batch.
    public var shouldStop: () -> Bool = { false }

    public init() {}
}
