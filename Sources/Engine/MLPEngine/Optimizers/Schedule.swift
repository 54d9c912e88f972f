import Foundation

/// A learning-rate schedule: the rate for an epoch (counted from 0) given the base rate.
/// Applied at the start of each epoch, as calling scheduler.step() after each epoch does.
public struct Schedule {
    /// The schedule as data: what checkpoints store and the registry rebuilds it from.
    public let spec: Spec
    public let rate: (_ epoch: Int, _ base: Float) -> Float

    public init(spec: Spec, rate: @escaping (Int, Float) -> Float) {
        self.spec = spec
        self.rate = rate
    }

    /// The schedule as mlpsh text ("step step_size=10 gamma=0.5").
    public var definition: String { spec.text }

    /// The constant rate.
    public static let none = Schedule(spec: Spec("none")) { _, base in base }

    /// StepLR: base · γ^⌊epoch / step_size⌋.
    public static func step(size: Int, gamma: Float) -> Schedule {
        Schedule(spec: Spec("step", options: [("step_size", "\(size)"), ("gamma", "\(gamma)")])) { epoch, base in
            Float(Double(base) * pow(Double(gamma), Double(epoch / size)))
        }
    }

    /// CosineAnnealingLR (closed form): η_min + (base - η_min)·(1 + cos(π·epoch/T_max))/2.
    public static func cosine(tMax: Int, etaMin: Float) -> Schedule {
        Schedule(spec: Spec("cosine", options: [("t_max", "\(tMax)"), ("eta_min", "\(etaMin)")])) { epoch, base in
            Float(Double(etaMin) + Double(base - etaMin) * (1 + cos(Double.pi * Double(epoch) / Double(tMax))) / 2)
        }
    }
}

// MARK: - Its registry entry

extension Schedule {
    public static let noneEntry = RegistryEntry<ScheduleFactory>(name: "none", summary: "a constant learning rate", example: "schedule none",
            make: { _ in .none })
    public static let stepEntry = RegistryEntry<ScheduleFactory>(name: "step", summary: "lr · gamma^(epoch div step_size) (StepLR)",
            options: [OptionSpec("step_size", "10", "epochs between decays"), OptionSpec("gamma", "0.1", "decay factor")],
            example: "schedule step step_size=10 gamma=0.5",
            make: { .step(size: try $0.options.int("step_size", min: 1), gamma: try $0.options.float("gamma", min: 0)) })
    public static let cosineEntry = RegistryEntry<ScheduleFactory>(name: "cosine", summary: "cosine annealing from lr to eta_min over t_max epochs (CosineAnnealingLR)",
            options: [OptionSpec("t_max", "50", "epochs of one half-period"), OptionSpec("eta_min", "0", "the lowest rate")],
            example: "schedule cosine t_max=50",
            make: { .cosine(tMax: try $0.options.int("t_max", min: 1), etaMin: try $0.options.float("eta_min", min: 0)) })
}
