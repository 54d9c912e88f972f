import CBLAS
import Foundation

/// Weight initialisation schemes, as torch.nn.init defines them. Each takes a weight of any
/// rank ≥ 2 with PyTorch's fan_in (the product of the axes after the first) and fan_out
/// (shape[0] times the receptive field), so a convolution's [out, in, k, k] is handled as
/// torch handles it. Bounds are computed in Double, as torch computes them in Python, and
/// rounded to Float once, as `uniform_` casts them.
public enum Initializer {
    /// kaiming_uniform_(a=√5)'s bound, as torch computes it: gain = √(2/(1+a²)),
    /// std = gain/√fan_in, bound = √3·std (not exactly 1/√fan_in in Double).
    public static func kaimingUniformBound(fanIn: Int, a: Double = 5.0.squareRoot()) -> Double {
        let gain = (2.0 / (1 + pow(a, 2))).squareRoot()
        let std = gain / Double(fanIn).squareRoot()
        return 3.0.squareRoot() * std
    }

    /// uniform_(from, to) on a tensor, value by value in order.
    public static func uniform(_ t: Tensor, _ from: Double, _ to: Double, random: RandomGenerator) {
        let lo = Float(from), hi = Float(to)
        for i in 0..<t.count { t.data[i] = random.source.uniform(lo, hi) }
    }

    /// nn.Linear's and nn.Conv2d's reset_parameters: kaiming_uniform_(a=√5) on the weight,
    /// then the bias uniform(±1/√fan_in). Weight first, in memory order.
    public static func pytorchDefault(weight: Parameter, bias: Parameter?, random: RandomGenerator) {
        let bound = kaimingUniformBound(fanIn: weight.fanIn)
        uniform(weight.value, -bound, bound, random: random)
        if let bias {
            let b = weight.fanIn > 0 ? 1 / Double(weight.fanIn).squareRoot() : 0
            uniform(bias.value, -b, b, random: random)
        }
    }

    /// xavier_uniform_: uniform(±√3·gain·√(2/(fan_in+fan_out))), computed as torch does.
    public static func xavierUniform(weight: Parameter, gain: Double = 1, random: RandomGenerator) {
        let a = 3.0.squareRoot() * (gain * (2.0 / Double(weight.fanIn + weight.fanOut)).squareRoot())
        uniform(weight.value, -a, a, random: random)
    }

    /// kaiming_normal_ (mode fan_in, relu gain √2): normal(0, √2/√fan_in).
    public static func kaimingNormal(weight: Parameter, random: RandomGenerator) {
        let std = (2.0 / Double(weight.fanIn)).squareRoot()
        let w = weight.value
        for i in 0..<w.count { w.data[i] = Float(random.source.normal() * std) }
    }

    /// orthogonal_: the Q of a QR factorisation of a standard normal matrix (LAPACK sgeqrf and
    /// sorgqr), its columns' signs set by diag(R), transposed when rows < cols; times gain.
    /// The weight is taken as [shape[0], fan_in], as torch flattens it.
    public static func orthogonal(weight: Parameter, gain: Float = 1, random: RandomGenerator) throws {
        let rows = weight.shape[0], cols = weight.count / max(rows, 1)
        let data = weight.value.data
        // Factor the tall matrix: m >= n.
        let m = max(rows, cols), n = min(rows, cols)
        // LAPACK is column-major: A is m x n with leading dimension m.
        var a = [Float](repeating: 0, count: m * n)
        for i in 0..<a.count { a[i] = Float(random.source.normal()) }
        var tau = [Float](repeating: 0, count: n)
        var info: Int32 = 0
        var mm = Int32(m), nn = Int32(n), lda = Int32(m)
        var query: Float = 0, lwork: Int32 = -1
        sgeqrf_(&mm, &nn, &a, &lda, &tau, &query, &lwork, &info)
        lwork = Int32(query)
        var work = [Float](repeating: 0, count: max(Int(lwork), 1))
        sgeqrf_(&mm, &nn, &a, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw EngineError("orthogonal init: sgeqrf failed (info \(info))") }
        let signs = (0..<n).map { a[$0 * m + $0] < 0 ? Float(-1) : Float(1) }
        var kk = Int32(n)
        lwork = -1
        sorgqr_(&mm, &nn, &kk, &a, &lda, &tau, &query, &lwork, &info)
        lwork = Int32(query)
        work = [Float](repeating: 0, count: max(Int(lwork), 1))
        sorgqr_(&mm, &nn, &kk, &a, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw EngineError("orthogonal init: sorgqr failed (info \(info))") }
        // Q (m x n, column-major) with column j scaled by signs[j].
        for i in 0..<m {
            for j in 0..<n {
                let q = a[j * m + i] * signs[j] * gain
                if rows >= cols { data[i * cols + j] = q } else { data[j * cols + i] = q }
            }
        }
    }
}

/// A named initialisation scheme, as the `init` command and its registry know it.
public struct InitScheme {
    /// Re-initialises one layer's weight and its bias (nil when it has none).
    public let apply: (_ weight: Parameter, _ bias: Parameter?, _ random: RandomGenerator) throws -> Void
    public init(apply: @escaping (Parameter, Parameter?, RandomGenerator) throws -> Void) { self.apply = apply }
}

// MARK: - Its registry entry

extension InitScheme {
    private static let bias = OptionSpec("bias", "zero", "what the biases become: zero, or keep")

    private static func biasRule(_ o: Options) throws -> (Parameter?) -> Void {
        switch o.string("bias") {
        case "zero": return { $0?.value.fill(0) }
        case "keep": return { _ in }
        case let other: throw EngineError("bias=\(other) for 'init' is not zero or keep")
        }
    }
    public static let defaultEntry = RegistryEntry<InitFactory>(name: "default", summary: "PyTorch's nn.Linear rule: weight and bias uniform in ±1/sqrt(fan_in)",
            example: "init default", make: { _ in
                InitScheme { w, b, r in Initializer.pytorchDefault(weight: w, bias: b, random: r) } })
    public static let xavierUniformEntry = RegistryEntry<InitFactory>(name: "xavier_uniform", summary: "uniform in ±gain·sqrt(6/(fan_in+fan_out))",
            options: [OptionSpec("gain", "1", "scale"), bias], example: "init xavier_uniform", make: { a in
                let o = a.options
                let gain = try o.double("gain", min: 0), rule = try biasRule(o)
                return InitScheme { w, b, r in Initializer.xavierUniform(weight: w, gain: gain, random: r); rule(b) } })
    public static let kaimingNormalEntry = RegistryEntry<InitFactory>(name: "kaiming_normal", summary: "normal with std sqrt(2/fan_in) (He, for ReLU)",
            options: [bias], example: "init kaiming_normal", make: { a in
                let o = a.options
                let rule = try biasRule(o)
                return InitScheme { w, b, r in Initializer.kaimingNormal(weight: w, random: r); rule(b) } })
    public static let orthogonalEntry = RegistryEntry<InitFactory>(name: "orthogonal", summary: "an orthogonal matrix from the QR of a normal one (LAPACK)",
            options: [OptionSpec("gain", "1", "scale"), bias], example: "init orthogonal", make: { a in
                let o = a.options
                let gain = try o.float("gain", min: 0), rule = try biasRule(o)
                return InitScheme { w, b, r in try Initializer.orthogonal(weight: w, gain: gain, random: r); rule(b) } })
}
