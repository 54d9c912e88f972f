/// Gaussian blobs for tests and demos: `classes` centres drawn uniform in [-1, 1]^features
/// from their own generator seeded by `centres` (so a train and a test set made with the same
/// value share their classes), and `n` samples, each its class's centre plus normal noise of
/// standard deviation `noise` drawn from the session's random source, classes taken in turn.
public enum SyntheticData {
    public static func make(classes: Int, features: Int, n: Int, noise: Float, centresSeed: UInt64,
                            random: RandomGenerator) -> Dataset {
        var centreSource = RandomSource(seed: centresSeed)
        var centres = [Float](repeating: 0, count: classes * features)
        for i in centres.indices { centres[i] = centreSource.uniform(-1, 1) }
        var values = [Float](repeating: 0, count: n * features)
        var labels = [Int32](repeating: 0, count: n)
        for s in 0..<n {
            let c = s % classes
            labels[s] = Int32(c)
            for f in 0..<features {
                values[s * features + f] = centres[c * features + f] + noise * Float(random.source.normal())
            }
        }
        return FloatDataset(summary: "synthetic (\(n) samples, \(features) features, \(classes) classes)",
                            sampleShape: [features], classNames: (0..<classes).map(String.init),
                            values: values, labels: labels)
    }

    static func make(_ a: DatasetArguments) throws -> Dataset {
        let o = a.options
        let classes = try o.int("classes", min: 2, max: 1 << 16)
        let features = try o.int("features", min: 1, max: 1 << 20)
        let n = try o.int("n", min: 1, max: 1 << 26)
        guard features * n <= 1 << 26 else {
            throw EngineError("synthetic: features × n = \(features * n) values is too many (at most \(1 << 26))")
        }
        let centres = try o.int("centres", min: 0, max: Int(UInt32.max))
        return make(classes: classes, features: features, n: n, noise: try o.float("noise", min: 0),
                    centresSeed: UInt64(centres), random: a.random)
    }
}

// MARK: - Its registry entry

extension SyntheticData {
    public static let entry = RegistryEntry<DatasetFactory>(name: "synthetic", summary: "Gaussian blobs, generated from the seed",
            options: [OptionSpec("classes", "3", "number of classes"), OptionSpec("features", "4", "features per sample"),
                      OptionSpec("n", "600", "number of samples"), OptionSpec("noise", "0.3", "standard deviation around each class centre"),
                      OptionSpec("centres", "0", "the seed of the class centres: train and test sets with the same value share classes")],
            example: "data train synthetic classes=3 features=4 n=600", make: SyntheticData.make)
}
