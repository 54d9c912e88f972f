import Foundation

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

    /// The walkthrough's line:
    /// `epoch: 0,train_loss:2.157364,train_acc:46.7%,test_loss:1.83506,test_acc:63.7%`
    /// (the test half only when there was a test set).
    public var line: String {
        var line = String(format: "epoch:%2d,train_loss:%.6f,train_acc:%.1f%%", epoch, trainLoss, trainAccuracy * 100)
        if let tl = testLoss, let ta = testAccuracy {
            line += String(format: ",test_loss:%.5f,test_acc:%.1f%%", tl, ta * 100)
        }
        return line
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

/// How `fit` ended: every epoch done, or stopped by `shouldStop` part-way.
public enum FitOutcome: Equatable {
    case finished
    /// Stopped after `batches` of `of` batches of epoch `epoch`; the epochs before it are in
    /// the history, and the weights are those the last finished batch left.
    case interrupted(epoch: Int, batches: Int, of: Int)
}

/// The points at which a caller joins the training loop, in the manner of Caffe's solver
/// callbacks. All are optional; the loop runs the same without them.
public struct TrainingHooks {
    /// After a batch's gradients are complete and before the optimizer's step: the place to
    /// reduce gradients across processes (the model's `gradientStorage` is one flat buffer).
    public var gradientsReady: ((Sequential) throws -> Void)?
    /// After each training batch: progress.
    public var batchEnded: ((TrainingProgress) -> Void)?
    /// After each epoch, once its result is in the history: the printed line, a log.
    public var epochEnded: ((EpochResult) throws -> Void)?
    /// Polled after every batch, in training and evaluation; true stops after that batch.
    public var shouldStop: () -> Bool = { false }

    public init() {}
}
