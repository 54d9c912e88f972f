/// (x − mean) / std for each channel of a sample, as torchvision's transforms.Normalize: one
/// mean and one std for every channel, or one of each a channel. A checkpoint keeps it, so
/// that what is predicted later is normalised as the training data was.
public struct Normalization: Codable, Equatable, Sendable {
    public let mean: [Float]
    public let std: [Float]

    public init(mean: [Float], std: [Float]) throws {
        guard !mean.isEmpty, mean.count == std.count else {
            throw EngineError("normalize: \(mean.count) means and \(std.count) stds: give one of each a channel (or one of each for all)")
        }
        guard mean.allSatisfy(\.isFinite), std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw EngineError("normalize: the means must be numbers and the stds numbers above 0")
        }
        self.mean = mean
        self.std = std
    }

    /// Checks that it fits samples of `shape` ([C, ...]: one value, or C).
    public func check(_ shape: [Int]) throws {
        let channels = shape.count >= 2 ? shape[0] : 1
        guard mean.count == 1 || mean.count == channels else {
            throw EngineError("normalize: \(mean.count) values for samples of \(channels) channel\(channels == 1 ? "" : "s") (shape \(shape))")
        }
    }

    /// Normalises `rows` samples of `shape` in place.
    public func apply(_ x: UnsafeMutablePointer<Float>, rows: Int, shape: [Int]) {
        let channels = shape.count >= 2 ? shape[0] : 1
        let width = shape.reduce(1, *), plane = width / max(channels, 1)
        for r in 0..<rows {
            for c in 0..<channels {
                let m = mean[mean.count == 1 ? 0 : c], s = 1 / std[std.count == 1 ? 0 : c]
                let p = x + r * width + c * plane
                for i in 0..<plane { p[i] = (p[i] - m) * s }
            }
        }
    }

    /// "mean=0.1307 std=0.3081", as `normalize` takes it.
    public var text: String {
        "mean=" + mean.map { "\($0)" }.joined(separator: ",") + " std=" + std.map { "\($0)" }.joined(separator: ",")
    }
}

/// A data set whose samples come out normalised.
public final class Normalized: Dataset {
    public let base: Dataset
    public let normalization: Normalization

    public init(_ base: Dataset, _ normalization: Normalization) throws {
        try normalization.check(base.sampleShape)
        self.base = base
        self.normalization = normalization
    }

    public var summary: String { "\(base.summary), normalized (\(normalization.text))" }
    public var count: Int { base.count }
    public var sampleShape: [Int] { base.sampleShape }
    public var classNames: [String] { base.classNames }
    public var fillsConcurrently: Bool { base.fillsConcurrently }

    public func fill(indices: UnsafeBufferPointer<Int32>, x: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) {
        base.fill(indices: indices, x: x, labels: labels)
        normalization.apply(x, rows: indices.count, shape: sampleShape)
    }
}
