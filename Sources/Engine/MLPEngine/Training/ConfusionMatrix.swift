import Foundation

/// Counts of (true class, predicted class) over a data set, with each class's precision and
/// recall. Rows are the true classes, columns the predictions, as sklearn prints them.
public struct ConfusionMatrix: Equatable {
    public let classes: Int
    /// counts[truth * classes + predicted]
    public private(set) var counts: [Int]

    public init(classes: Int) {
        self.classes = classes
        counts = [Int](repeating: 0, count: classes * classes)
    }

    public subscript(truth: Int, predicted: Int) -> Int { counts[truth * classes + predicted] }

    public mutating func add(truth: Int, predicted: Int) { counts[truth * classes + predicted] += 1 }

    public var total: Int { counts.reduce(0, +) }
    public var correct: Int { (0..<classes).reduce(0) { $0 + self[$1, $1] } }
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }

    /// Of the samples predicted as class c, the fraction that are c; nil when none were.
    public func precision(_ c: Int) -> Double? {
        let predicted = (0..<classes).reduce(0) { $0 + self[$1, c] }
        return predicted == 0 ? nil : Double(self[c, c]) / Double(predicted)
    }

    /// Of the samples of class c, the fraction predicted as c; nil when there are none.
    public func recall(_ c: Int) -> Double? {
        let actual = (0..<classes).reduce(0) { $0 + self[c, $1] }
        return actual == 0 ? nil : Double(self[c, c]) / Double(actual)
    }

    /// The harmonic mean of precision and recall, 2PR / (P + R); nil when the class was neither
    /// present nor predicted, 0 when it was but never predicted right.
    public func f1(_ c: Int) -> Double? {
        if precision(c) == nil && recall(c) == nil { return nil }
        let p = precision(c) ?? 0, r = recall(c) ?? 0
        return p + r == 0 ? 0 : 2 * p * r / (p + r)
    }

    /// Precision, recall and F1 averaged over the classes present or predicted, each class
    /// counting once (scikit-learn's macro average: an undefined precision or recall counts as 0).
    public var macroAverage: (precision: Double, recall: Double, f1: Double)? {
        let seen = (0..<classes).filter { precision($0) != nil || recall($0) != nil }
        guard !seen.isEmpty else { return nil }
        let n = Double(seen.count)
        return (seen.reduce(0) { $0 + (precision($1) ?? 0) } / n, seen.reduce(0) { $0 + (recall($1) ?? 0) } / n,
                seen.reduce(0) { $0 + (f1($1) ?? 0) } / n)
    }
}

extension Sequential {
    /// The most classes `confusion` shows (4,096² counts is 128 MiB).
    public static let maximumConfusionClasses = 4_096

    /// The confusion matrix of the model on `dataset`, in evaluation mode, `batch` samples a pass.
    public func confusion(_ dataset: Dataset, batch: Int = 1024,
                          check: (TrainingProgress) -> Bool = { _ in true }) throws -> ConfusionMatrix {
        isTraining = false
        defer { isTraining = true }
        let classes = max(dataset.classes, outputWidth)
        guard classes <= Self.maximumConfusionClasses else {
            throw EngineError("a confusion matrix of \(classes) classes has \(classes * classes) cells, more than the \(Self.maximumConfusionClasses) classes shown: use 'test' for the accuracy")
        }
        var matrix = ConfusionMatrix(classes: classes)
        let loader = BatchLoader(dataset: dataset, batchSize: batch)
        for b in 0..<loader.batchCount {
            let size = loader.load(batch: b)
            let out = forward(loader.x)
            for r in 0..<size {
                let truth = Int(loader.labels[r])
                guard (0..<classes).contains(truth) else { continue }
                matrix.add(truth: truth, predicted: argmax(out.row(r), out.cols))
            }
            if !check(TrainingProgress(epoch: 0, batch: b + 1, of: loader.batchCount, samples: b * batch + size, runningLoss: 0)) {
                throw TrainingStop.interrupted(epoch: 0, batches: b + 1, of: loader.batchCount)
            }
        }
        return matrix
    }

    /// The model's class probabilities for one sample (`features` floats), in evaluation mode.
    /// A model that ends in softmax or log_softmax already gives them; otherwise softmax is applied.
    public func probabilities(_ sample: [Float]) -> [Float] {
        isTraining = false
        defer { isTraining = true }
        let x = sample.count == inputWidth ? Tensor(shape: [1] + inputShape, values: sample) : Tensor(rows: 1, cols: sample.count, values: sample)
        let out = forward(x)
        var p = Array(UnsafeBufferPointer(start: out.data, count: out.cols))
        switch layers.last?.name {
        case "softmax": break
        case "log_softmax": p = p.map { Foundation.exp($0) }
        default:
            let m = p.max() ?? 0
            p = p.map { Foundation.exp($0 - m) }
            let s = p.reduce(0, +)
            p = p.map { $0 / s }
        }
        return p
    }
}
