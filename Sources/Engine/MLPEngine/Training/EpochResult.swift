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
    /// On the validation set, when there is one (`data val from=train`).
    public var valLoss: Double?
    public var valAccuracy: Double?

    public init(epoch: Int, trainLoss: Double, trainAccuracy: Double, testLoss: Double? = nil,
                testAccuracy: Double? = nil, learningRate: Float, seconds: Double,
                valLoss: Double? = nil, valAccuracy: Double? = nil) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.testLoss = testLoss
        self.testAccuracy = testAccuracy
        self.learningRate = learningRate
        self.seconds = seconds
        self.valLoss = valLoss
        self.valAccuracy = valAccuracy
    }

    /// The value `monitor` names ("val_loss", "val_acc", "test_loss", "test_acc", "train_loss",
    /// "train_acc"), nil when the epoch has none, and whether larger is better.
    public func value(of monitor: String) -> (value: Double?, higherIsBetter: Bool)? {
        switch monitor {
        case "val_loss": return (valLoss, false)
        case "val_acc": return (valAccuracy, true)
        case "test_loss": return (testLoss, false)
        case "test_acc": return (testAccuracy, true)
        case "train_loss": return (trainLoss, false)
        case "train_acc": return (trainAccuracy, true)
        default: return nil
        }
    }

    /// The walkthrough's line:
    /// `epoch: 0,train_loss:2.157364,train_acc:46.7%,test_loss:1.83506,test_acc:63.7%`
    /// (the test half only when there was a test set).
    public var line: String {
        var line = String(format: "epoch:%2d,train_loss:%.6f,train_acc:%.1f%%", epoch, trainLoss, trainAccuracy * 100)
        if let vl = valLoss, let va = valAccuracy {
            line += String(format: ",val_loss:%.5f,val_acc:%.1f%%", vl, va * 100)
        }
        if let tl = testLoss, let ta = testAccuracy {
            line += String(format: ",test_loss:%.5f,test_acc:%.1f%%", tl, ta * 100)
        }
        return line
    }
}
