import Foundation
import Synchronization

/// Random transforms of training images, as torchvision's RandomCrop(padding=P),
/// RandomHorizontalFlip(p), RandomRotation(degrees) and RandomAffine(translate=): each sample
/// is transformed afresh each time it is drawn, on the thread that fills its part of the batch.
/// The draws are seeded by the seed, the sample and how many times it was drawn before, so a
/// run is the same whatever the threads do.
public struct Augmentation: Equatable, Sendable {
    /// Zeros around the image before a random crop of its own size (a shift of up to this).
    public var padding = 0
    public var flipProbability = 0.0
    /// A rotation by an angle drawn from ±degrees, about the centre, bilinear, zero outside.
    public var degrees = 0.0
    /// A shift by up to this fraction of the width and height.
    public var translate = 0.0

    public init(padding: Int = 0, flipProbability: Double = 0, degrees: Double = 0, translate: Double = 0) {
        (self.padding, self.flipProbability, self.degrees, self.translate) = (padding, flipProbability, degrees, translate)
    }

    public var text: String {
        var parts: [String] = []
        if padding > 0 { parts.append("padding=\(padding)") }
        if flipProbability > 0 { parts.append("hflip=\(flipProbability)") }
        if degrees > 0 { parts.append("rotate=\(degrees)") }
        if translate > 0 { parts.append("translate=\(translate)") }
        return parts.joined(separator: " ")
    }

    /// Transforms one sample [C, H, W] in place, with `scratch` of at least C·H·W floats.
    func apply(_ x: UnsafeMutablePointer<Float>, channels c: Int, height h: Int, width w: Int,
               random: inout SplitMix, scratch: UnsafeMutablePointer<Float>) {
        let plane = h * w
        // Rotation and translation: one affine map, sampled backwards, bilinear.
        let angle = degrees > 0 ? (random.unit() * 2 - 1) * degrees * .pi / 180 : 0
        let tx = translate > 0 ? ((random.unit() * 2 - 1) * translate * Double(w)).rounded() : 0
        let ty = translate > 0 ? ((random.unit() * 2 - 1) * translate * Double(h)).rounded() : 0
        if angle != 0 || tx != 0 || ty != 0 {
            scratch.update(from: x, count: c * plane)
            let cosA = cos(angle), sinA = sin(angle), cx = Double(w - 1) / 2, cy = Double(h - 1) / 2
            for y in 0..<h {
                for xo in 0..<w {
                    // The source of (xo, y): undo the shift, then the rotation about the centre.
                    let dx = Double(xo) - tx - cx, dy = Double(y) - ty - cy
                    let sx = cosA * dx + sinA * dy + cx, sy = -sinA * dx + cosA * dy + cy
                    let x0 = Int(sx.rounded(.down)), y0 = Int(sy.rounded(.down))
                    let fx = Float(sx - Double(x0)), fy = Float(sy - Double(y0))
                    for ch in 0..<c {
                        let src = scratch + ch * plane
                        func at(_ yy: Int, _ xx: Int) -> Float { yy >= 0 && yy < h && xx >= 0 && xx < w ? src[yy * w + xx] : 0 }
                        let top = at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx
                        let bottom = at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx
                        x[ch * plane + y * w + xo] = top * (1 - fy) + bottom * fy
                    }
                }
            }
        }
        // A crop of the image's own size from it padded by P: a shift by up to P, zeros in.
        if padding > 0 {
            let sx = random.below(2 * padding + 1) - padding, sy = random.below(2 * padding + 1) - padding
            if sx != 0 || sy != 0 {
                scratch.update(from: x, count: c * plane)
                for ch in 0..<c {
                    for y in 0..<h {
                        for xo in 0..<w {
                            let ys = y + sy, xs = xo + sx
                            x[ch * plane + y * w + xo] = ys >= 0 && ys < h && xs >= 0 && xs < w ? scratch[ch * plane + ys * w + xs] : 0
                        }
                    }
                }
            }
        }
        if flipProbability > 0, random.unit() < flipProbability {
            for ch in 0..<c {
                for y in 0..<h {
                    let row = x + ch * plane + y * w
                    for i in 0..<(w / 2) { let t = row[i]; row[i] = row[w - 1 - i]; row[w - 1 - i] = t }
                }
            }
        }
    }
}

/// A small generator for augmentation (SplitMix64): cheap to seed for every sample drawn.
struct SplitMix {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// In [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// A training set whose images come out transformed (`augment`).
public final class Augmented: Dataset {
    public let base: Dataset
    public let augmentation: Augmentation
    private let seed: UInt64
    /// How many times each sample was drawn: a sample's draws differ each time.
    private let draws: UnsafeMutablePointer<UInt32>

    public init(_ base: Dataset, _ augmentation: Augmentation, seed: UInt64) throws {
        guard base.sampleShape.count == 3 else {
            throw EngineError("augment needs images [C, H, W], but the data set's samples are \(base.sampleShape)")
        }
        self.base = base
        self.augmentation = augmentation
        self.seed = seed
        draws = .allocate(capacity: max(base.count, 1))
        draws.initialize(repeating: 0, count: max(base.count, 1))
    }

    deinit { draws.deallocate() }

    public var summary: String { "\(base.summary), augmented (\(augmentation.text))" }
    public var count: Int { base.count }
    public var sampleShape: [Int] { base.sampleShape }
    public var classNames: [String] { base.classNames }
    public var fillsConcurrently: Bool { base.fillsConcurrently }

    public func fill(indices: UnsafeBufferPointer<Int32>, x: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>) {
        base.fill(indices: indices, x: x, labels: labels)
        let shape = sampleShape, width = shape.reduce(1, *)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: width)
        defer { scratch.deallocate() }
        for (r, index) in indices.enumerated() {
            // A batch holds a sample once: its counter is this thread's alone.
            let drawn = draws[Int(index)]
            draws[Int(index)] = drawn &+ 1
            var random = SplitMix(seed ^ (UInt64(UInt32(bitPattern: index)) << 32 | UInt64(drawn)) &* 0xD6E8_FEB8_6659_FD93)
            augmentation.apply(x + r * width, channels: shape[0], height: shape[1], width: shape[2], random: &random, scratch: scratch)
        }
    }
}
