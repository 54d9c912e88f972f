import Foundation
import CBLAS

/// The engine's matrix products, all through OpenBLAS. Each call names its M, N and K.
public enum BLAS {
    /// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major.
    @inline(__always)
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// y[M] = alpha * op(A) x + beta * y, with A row-major [rows, cols].
    @inline(__always)
    public static func gemv(trans: Bool, rows: Int, cols: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, x: UnsafePointer<Float>,
                            beta: Float, y: UnsafeMutablePointer<Float>) {
        cblas_sgemv(CblasRowMajor, trans ? CblasTrans : CblasNoTrans, Int32(rows), Int32(cols),
                    alpha, a, Int32(cols), x, 1, beta, y, 1)
    }

    /// The number of threads OpenBLAS uses.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }

    /// The number of cores OpenBLAS sees.
    public static var cores: Int { Int(openblas_get_num_procs()) }

    /// OpenBLAS's own description of its build: version, kernel, threading.
    public static var configuration: String {
        guard let s = openblas_get_config() else { return "OpenBLAS" }
        return String(cString: s).trimmingCharacters(in: .whitespaces)
    }

    /// The CPU kernel OpenBLAS chose.
    public static var coreName: String {
        guard let s = openblas_get_corename() else { return "unknown" }
        return String(cString: s)
    }
}
