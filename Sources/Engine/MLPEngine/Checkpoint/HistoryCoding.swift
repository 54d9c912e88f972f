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
    var val_loss: Double?
    var val_acc: Double?
}

public enum HistoryCoding {
    /// How values JSON has no number for are written: as these strings, both ways.
    private static let nonFinite = (positive: "inf", negative: "-inf", nan: "nan")

    /// The history as a JSON list of epochs (keys sorted). A value that is not finite (a
    /// NaN loss, an infinite one) is written as the string "nan", "inf" or "-inf", and read
    /// back as itself.
    public static func json(_ history: [EpochResult]) throws -> String {
        let rows = history.map {
            HistoryRow(epoch: $0.epoch, train_loss: $0.trainLoss, train_acc: $0.trainAccuracy, test_loss: $0.testLoss,
                       test_acc: $0.testAccuracy, lr: Double($0.learningRate), seconds: $0.seconds,
                       val_loss: $0.valLoss, val_acc: $0.valAccuracy)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: nonFinite.positive, negativeInfinity: nonFinite.negative, nan: nonFinite.nan)
        do {
            return String(decoding: try encoder.encode(rows), as: UTF8.self)
        } catch {
            throw EngineError("the history cannot be written as JSON (\(error))")
        }
    }

    /// Reads what `json` wrote; `name` is the file, for the message.
    public static func parse(_ text: String, name: String) throws -> [EpochResult] {
        // JSONDecoder reads doubles exactly (JSONSerialization on Linux can be one unit off).
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: nonFinite.positive, negativeInfinity: nonFinite.negative, nan: nonFinite.nan)
        guard let rows = try? decoder.decode([HistoryRow].self, from: Data(text.utf8)) else {
            throw EngineError("\(name): mlpsh.history in the metadata is not a list of epochs")
        }
        return rows.map {
            EpochResult(epoch: $0.epoch, trainLoss: $0.train_loss, trainAccuracy: $0.train_acc, testLoss: $0.test_loss,
                        testAccuracy: $0.test_acc, learningRate: Float($0.lr ?? 0), seconds: $0.seconds ?? 0,
                        valLoss: $0.val_loss, valAccuracy: $0.val_acc)
        }
    }
}
