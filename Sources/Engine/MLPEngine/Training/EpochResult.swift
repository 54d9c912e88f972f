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
