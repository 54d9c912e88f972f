/// The engine's one random source: the 32-bit Mersenne Twister (mt19937) seeded as
/// `torch.manual_seed` seeds PyTorch's CPU generator, with PyTorch's float uniform rule, so
/// that `seed 0` then `uniform` draws the same numbers as `torch.manual_seed(0); torch.rand(n)`.
public struct RandomSource: Sendable, Equatable {
    private static let n = 624, m = 397
    public private(set) var state: [UInt32]
    public private(set) var index: Int
    /// A second normal value kept from the last Box-Muller pair.
    private var spareNormal: Double?

    public init(seed: UInt64) {
        var mt = [UInt32](repeating: 0, count: Self.n)
        mt[0] = UInt32(truncatingIfNeeded: seed)
        for i in 1..<Self.n {
            mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i)
        }
        state = mt
        index = Self.n
    }

    /// Restores a generator from `state` and `index` (as saved in a checkpoint).
    public init?(state: [UInt32], index: Int) {
        guard state.count == Self.n, (0...Self.n).contains(index) else { return nil }
        self.state = state
        self.index = index
    }

    private mutating func twist() {
        for i in 0..<Self.n {
            let y = (state[i] & 0x8000_0000) | (state[(i + 1) % Self.n] & 0x7fff_ffff)
            var v = state[(i + Self.m) % Self.n] ^ (y >> 1)
            if y & 1 != 0 { v ^= 0x9908_b0df }
            state[i] = v
        }
        index = 0
    }

    /// The next 32 random bits.
    public mutating func next32() -> UInt32 {
        if index >= Self.n { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    /// A float uniform in [from, to): 24 random bits, as PyTorch's `uniform_` on float tensors,
    /// which computes x·(to − from) + from with one rounding (a fused multiply-add).
    public mutating func uniform(_ from: Float = 0, _ to: Float = 1) -> Float {
        let x = Float(next32() & 0xff_ffff) * (1.0 / 16_777_216.0)
        return from.addingProduct(x, to - from)
    }

    /// A double uniform in [0, 1) with 53 random bits.
    public mutating func uniformDouble() -> Double {
        let hi = UInt64(next32()), lo = UInt64(next32())
        return Double(((hi << 32) | lo) & ((1 << 53) - 1)) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A standard normal value (Box-Muller).
    public mutating func normal() -> Double {
        if let s = spareNormal { spareNormal = nil; return s }
        let u1 = 1 - uniformDouble(), u2 = uniformDouble()
        let r = (-2 * _log(u1)).squareRoot()
        let t = 2 * Double.pi * u2
        spareNormal = r * _sin(t)
        return r * _cos(t)
    }

    /// An integer uniform in 0..<bound.
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        if bound <= Int(UInt32.max) { return Int(UInt64(next32()) % UInt64(bound)) }
        let hi = UInt64(next32()), lo = UInt64(next32())
        return Int(((hi << 32) | lo) % UInt64(bound))
    }

    /// Shuffles `indices` in place: for i in 0..<n-1, swap i with i + random % (n - i), the
    /// order of PyTorch's `randperm` on the CPU.
    public mutating func shuffle(_ indices: inout [Int32]) {
        let n = indices.count
        guard n > 1 else { return }
        for i in 0..<(n - 1) {
            let z = below(n - i)
            indices.swapAt(i, i + z)
        }
    }
}

import Foundation
@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _sin(_ x: Double) -> Double { Foundation.sin(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
