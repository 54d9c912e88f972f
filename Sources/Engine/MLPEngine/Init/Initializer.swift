import CBLAS
import Foundation

/// Weight initialisation schemes, as torch.nn.init defines them. Each takes a weight of
/// shape [out, in] (fan_in = in, fan_out = out) and, for `default`, its bias.
public enum Initializer {
    /// nn.Linear's reset_parameters: kaiming_uniform_(a=√5) on the weight, which is
    /// uniform(±1/√fan_in), then the bias uniform(±1/√fan_in). Weight first, row by row.
    public static func pytorchDefault(weight: Tensor, bias: Tensor?, random: RandomGenerator) {
        let bound = Float(1 / Double(weight.cols).squareRoot())
        for i in 0..<weight.count { weight.data[i] = random.source.uniform(-bound, bound) }
        if let bias {
            for i in 0..<bias.count { bias.data[i] = random.source.uniform(-bound, bound) }
        }
    }

    /// xavier_uniform_: uniform(±gain·√(6/(fan_in+fan_out))).
    public static func xavierUniform(weight: Tensor, gain: Double = 1, random: RandomGenerator) {
        let a = Float(gain * (6.0 / Double(weight.cols + weight.rows)).squareRoot())
        for i in 0..<weight.count { weight.data[i] = random.source.uniform(-a, a) }
    }

    /// kaiming_normal_ (mode fan_in, relu gain √2): normal(0, √2/√fan_in).
    public static func kaimingNormal(weight: Tensor, random: RandomGenerator) {
        let std = (2.0 / Double(weight.cols)).squareRoot()
        for i in 0..<weight.count { weight.data[i] = Float(random.source.normal() * std) }
    }

    /// orthogonal_: the Q of a QR factorisation of a standard normal matrix (LAPACK sgeqrf and
    /// sorgqr), its columns' signs set by diag(R), transposed when out < in; times gain.
    public static func orthogonal(weight: Tensor, gain: Float = 1, random: RandomGenerator) throws {
        let rows = weight.rows, cols = weight.cols
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
                if rows >= cols { weight.data[i * cols + j] = q } else { weight.data[j * cols + i] = q }
            }
        }
    }
}

/// A named initialisation scheme, as the `init` command and its registry know it.
public struct InitScheme {
    /// Re-initialises one linear layer's weight and bias.
    public let apply: (_ weight: Tensor, _ bias: Tensor, _ random: RandomGenerator) throws -> Void
    public init(apply: @escaping (Tensor, Tensor, RandomGenerator) throws -> Void) { self.apply = apply }
}
