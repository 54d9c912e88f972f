/// A shared handle on the session's random source: `seed` replaces it, and weight
/// initialisation, shuffling and dropout all draw from it in order.
public final class RandomGenerator {
    public var source: RandomSource
    public private(set) var seed: UInt64

    public init(seed: UInt64 = 0) {
        self.seed = seed
        source = RandomSource(seed: seed)
    }

    public func reseed(_ seed: UInt64) {
        self.seed = seed
        source = RandomSource(seed: seed)
    }
}
