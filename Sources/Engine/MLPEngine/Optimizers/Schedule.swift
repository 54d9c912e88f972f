import Foundation

/// A learning-rate schedule: the rate for an epoch (counted from 0) given the base rate.
/// Applied at the start of each epoch, as calling scheduler.step() after each epoch does.
public struct Schedule {
    public let definition: String
    public let rate: (_ epoch: Int, _ base: Float) -> Float

    public init(definition: String, rate: @escaping (Int, Float) -> Float) {
        self.definition = definition
        self.rate = rate
    }

    /// The constant rate.
    public static let none = Schedule(definition: "none") { _, base in base }

    /// StepLR: base · γ^⌊epoch / step_size⌋.
    public static func step(size: Int, gamma: Float) -> Schedule {
        Schedule(definition: "step step_size=\(size) gamma=\(gamma)") { epoch, base in
            Float(Double(base) * pow(Double(gamma), Double(epoch / size)))
        }
    }

    /// CosineAnnealingLR (closed form): η_min + (base - η_min)·(1 + cos(π·epoch/T_max))/2.
    public static func cosine(tMax: Int, etaMin: Float) -> Schedule {
        Schedule(definition: "cosine t_max=\(tMax) eta_min=\(etaMin)") { epoch, base in
            Float(Double(etaMin) + Double(base - etaMin) * (1 + cos(Double.pi * Double(epoch) / Double(tMax))) / 2)
        }
    }
}
