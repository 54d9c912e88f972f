import Foundation
import CBLAS

/// The engine's matrix products, all through OpenBLAS. Each call names its M, N and K.
public enum BLAS {
    /// How a large product is cut into pieces, one a core.
    public enum Split {
        /// By rows of C (and of op(A)).
        case rows
        /// By columns of C (and of op(B)).
        case columns
    }

    /// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major. A product of at least
    /// `parallelThreshold` (M·N·K) is split into `threads` pieces by `split`, each a
    /// single-threaded OpenBLAS call on its own core (`Parallel`). Every element of C is still
    /// one whole dot product over K. A layer chooses the split that keeps each core working on
    /// the same slice of its weights forward, backward and in the update.
    @inline(__always)
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int, split: Split = .rows) {
        _ = configureOnce
        let ways = Parallel.shared.ways
        guard ways > 1, m &* n &* k >= parallelThreshold else {
            sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
            return
        }
        // Pieces of at least 8 rows (or columns): on many cores, a small product uses fewer.
        let byRows = split == .rows && m >= 8 * ways || n < 8 * ways
        let pieces = max(1, min(ways, (byRows ? m : n) / 8))
        if byRows {
            Parallel.shared.run(pieces) { i in
                let r0 = m * i / pieces, r1 = m * (i + 1) / pieces
                sgemm(transA, transB, r1 - r0, n, k, alpha, transA ? a + r0 : a + r0 * lda, lda, b, ldb, beta, c + r0 * ldc, ldc)
            }
        } else {
            Parallel.shared.run(pieces) { i in
                let c0 = n * i / pieces, c1 = n * (i + 1) / pieces
                sgemm(transA, transB, m, c1 - c0, k, alpha, a, lda, transB ? b + c0 * ldb : b + c0, ldb, beta, c + c0, ldc)
            }
        }
    }

    /// C = alpha·op(A)·op(B) + beta·C on the calling thread alone (for work already split
    /// across cores by its caller).
    @inline(__always)
    public static func gemmOnThisThread(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                                        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        _ = configureOnce
        sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    @inline(__always)
    private static func sgemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                              _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                              _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// M·N·K from which a product is split across cores. Measured on 2 cores with OpenBLAS
    /// 0.3.21: 64x120x784 takes 63 µs in two pieces against 104 µs whole (and 90-130 µs on
    /// OpenBLAS's two threads), while 64x84x120 is fastest whole on one core.
    public static let parallelThreshold = 2_000_000

    /// The cores large products are split across (`threads N`). OpenBLAS itself is kept to
    /// one thread: the splitting is done here.
    public static var threads: Int {
        get { configureOnce; return Parallel.shared.ways }
        set { setThreads(newValue, source: "threads") }
    }

    /// The threads in use and who chose them: `2 (affinity)` (see ThreadCount).
    public static var threadCount: ThreadCount { ThreadCount(value: threads, source: Parallel.shared.source) }

    /// Sets the threads (at most Parallel.maximumWays), saying who chose them.
    public static func setThreads(_ n: Int, source: String) {
        _ = configureOnce
        Parallel.shared.setWays(n, source: source)
    }

    /// OpenBLAS runs every call on the calling thread.
    private static let configureOnce: Void = { openblas_set_num_threads(1) }()

    /// cblas_sgemm as OpenBLAS runs it on its own threads, unsplit: the reference rate the
    /// benchmark compares against.
    public static func openBLASGemm(threads: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                    c: UnsafeMutablePointer<Float>, ldc: Int) {
        _ = configureOnce
        openblas_set_num_threads(Int32(threads))
        sgemm(transA, transB, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
        openblas_set_num_threads(1)
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
