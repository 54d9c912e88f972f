import Foundation

/// One epoch as a checkpoint's `mlpsh.history` JSON holds it.
private struct HistoryRow: Codable {
    var epoch: Int
    var train_loss: Double
    var train_acc: Double
    var test_loss: Double?
    var test_acc: Double?
    var lr: Double?
    var seconds: Double?
}

public enum HistoryCoding {
    /// The history as a JSON list of epochs (keys sorted).
    public static func json(_ history: [EpochResult]) -> String {
        let rows = history.map {
            HistoryRow(epoch: $0.epoch, train_loss: $0.trainLoss, train_acc: $0.trainAccuracy, test_loss: $0.testLoss,
                       test_acc: $0.testAccuracy, lr: Double($0.learningRate), seconds: $0.seconds)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(rows)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
    }

    /// Reads what `json` wrote; `name` is the file, for the message.
    public static func parse(_ text: String, name: String) throws -> [EpochResult] {
        // JSONDecoder reads doubles exactly (JSONSerialization on Linux can be one unit off).
        guard let rows = try? JSONDecoder().decode([HistoryRow].self, from: Data(text.utf8)) else {
            throw EngineError("\(name): mlpsh.history in the metadata is not a list of epochs")
        }
        return rows.map {
            EpochResult(epoch: $0.epoch, trainLoss: $0.train_loss, trainAccuracy: $0.train_acc, testLoss: $0.test_loss,
                        testAccuracy: $0.test_acc, learningRate: Float($0.lr ?? 0), seconds: $0.seconds ?? 0)
        }
    }
}
