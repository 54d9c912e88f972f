/// A growable float buffer for a layer's working space: `reserve` returns room for at least
/// `n` floats, reallocating only when asked for more than ever before. `count` is the caller's
/// to use (how much of it holds something).
final class Scratch {
    private(set) var base: UnsafeMutablePointer<Float>?
    private var capacity = 0
    var count = 0

    func reserve(_ n: Int) -> UnsafeMutablePointer<Float> {
        if n > capacity || base == nil {
            base?.deallocate()
            capacity = max(n, 1)
            base = .allocate(capacity: capacity)
            base!.initialize(repeating: 0, count: capacity)
        }
        return base!
    }

    deinit { base?.deallocate() }
}
