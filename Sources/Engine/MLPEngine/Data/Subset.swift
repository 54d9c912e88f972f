/// Some samples of another data set, by index: what a validation split makes of the
/// training set (the part moved out, and the rest). The samples stay where they are.
public final class Subset: Dataset {
    public let base: Dataset
    public let indices: [Int32]
    public let summary: String

    public init(_ base: Dataset, indices: [Int32], summary: String) {
        self.base = base
        self.indices = indices
        self.summary = summary
    }

    public var count: Int { indices.count }
    public var sampleShape: [Int] { base.sampleShape }
    public var classNames: [String] { base.classNames }
    public var fillsConcurrently: Bool { base.fillsConcurrently }

    public func fill(indices wanted: UnsafeBufferPointer<Int32>, x: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) {
        let mapped = wanted.map { indices[Int($0)] }
        mapped.withUnsafeBufferPointer { base.fill(indices: $0, x: x, labels: labels) }
    }

    /// Splits `data` in two at random: a `fraction` of its samples (rounded, at least one)
    /// and the rest, each in the original order, drawn from a generator seeded with `seed`
    /// alone, so the same seed gives the same split whatever ran before.
    public static func split(_ data: Dataset, fraction: Double, seed: UInt64, name: String) throws -> (rest: Subset, part: Subset) {
        guard fraction > 0, fraction < 1 else { throw EngineError("fraction=\(fraction) is not between 0 and 1") }
        let n = data.count
        let k = Int((fraction * Double(n)).rounded())
        guard k >= 1, k < n else {
            throw EngineError("a fraction of \(fraction) of \(n) samples leaves \(k < 1 ? "no sample to move" : "no sample behind")")
        }
        var order = (0..<Int32(n)).map { $0 }
        var random = RandomSource(seed: seed ^ 0x7661_6C5F_7370_6C74)   // "val_splt": apart from the session's draws
        random.shuffle(&order)
        let part = order[..<k].sorted(), rest = order[k...].sorted()
        let base = data.summary
        return (Subset(data, indices: rest, summary: "\(base) without \(name) (\(rest.count) of \(n) samples)"),
                Subset(data, indices: part, summary: "\(fraction) of \(base) (\(part.count) of \(n) samples, seed \(seed))"))
    }
}
