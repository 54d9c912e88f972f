import Foundation
import CBLAS

/// The engine's matrix products, all through OpenBLAS. Each call names its M, N and K.
public enum BLAS {
    /// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major. A product smaller than
    /// `parallelThreshold` runs on one thread: waking a second costs more than it saves there.
    @inline(__always)
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        useThreads(m &* n &* k >= parallelThreshold ? threads : 1)
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// M·N·K from which a product runs on `threads` threads. Measured on 2 cores with
    /// OpenBLAS 0.3.21 (scripts/bench): 64x120x784 gains from a second thread, while
    /// 64x84x120 takes twice as long with it.
    public static let parallelThreshold = 2_000_000

    /// The number of threads large products use.
    nonisolated(unsafe) public static var threads: Int = Int(openblas_get_num_threads())

    /// The thread count last given to OpenBLAS; changed only when a call needs another.
    nonisolated(unsafe) private static var current: Int32 = -1

    @inline(__always)
    static func useThreads(_ n: Int) {
        let want = Int32(n)
        if want != current {
            openblas_set_num_threads(want)
            current = want
        }
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
