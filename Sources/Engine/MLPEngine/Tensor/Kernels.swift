/// Element-wise loops written with SIMD vectors, 8 floats at a time and then the remainder.
/// Each computes, element by element, exactly what the plain loop in its comment computes (no
/// fused multiply-add, no reordered sums), so results are bit-identical to it.
public enum Kernels {
    @usableFromInline typealias V = SIMD8<Float>

    @inline(__always) @usableFromInline
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> V {
        UnsafeRawPointer(p + i).loadUnaligned(as: V.self)
    }

    @inline(__always) @usableFromInline
    static func store(_ v: V, _ p: UnsafeMutablePointer<Float>, _ i: Int) {
        UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: V.self)
    }

    /// y[i] = x[i] > 0 ? x[i] : 0
    public static func relu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i + 8 <= n {
            let v = load(x, i)
            store(V(repeating: 0).replacing(with: v, where: v .> 0), y, i)
            i += 8
        }
        while i < n { y[i] = x[i] > 0 ? x[i] : 0; i += 1 }
    }

    /// dx[i] = x[i] > 0 ? dy[i] : 0
    public static func reluBackward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i + 8 <= n {
            store(V(repeating: 0).replacing(with: load(dy, i), where: load(x, i) .> 0), dx, i)
            i += 8
        }
        while i < n { dx[i] = x[i] > 0 ? dy[i] : 0; i += 1 }
    }

    /// row[j] += b[j] for each of `rows` rows of `n`.
    public static func addRow(_ b: UnsafePointer<Float>, to c: UnsafeMutablePointer<Float>, rows: Int, _ n: Int) {
        for r in 0..<rows {
            let row = c + r * n
            var j = 0
            while j + 8 <= n { store(load(row, j) + load(b, j), row, j); j += 8 }
            while j < n { row[j] += b[j]; j += 1 }
        }
    }

    /// s[j] += row[j] for each of `rows` rows of `n`, row after row (column sums, in row order).
    public static func addRows(_ c: UnsafePointer<Float>, rows: Int, _ n: Int, into s: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let row = c + r * n
            var j = 0
            while j + 8 <= n { store(load(s, j) + load(row, j), s, j); j += 8 }
            while j < n { s[j] += row[j]; j += 1 }
        }
    }

    /// w[i] -= lr * g[i]
    public static func sgdStep(_ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, lr: Float, _ n: Int) {
        var i = 0
        let l = V(repeating: lr)
        while i + 8 <= n {
            store(load(w, i) - l * load(g, i), w, i)
            i += 8
        }
        while i < n { w[i] -= lr * g[i]; i += 1 }
    }

    /// y[i] = x[i] (a short run: no call, unlike memmove).
    @inline(__always)
    public static func copy(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        while i &+ 8 <= n { store(load(x, i), y, i); i &+= 8 }
        while i < n { y[i] = x[i]; i &+= 1 }
    }

    /// y[i] = x[i] for a short run, in whole vectors: the last one overlaps the one before it
    /// rather than finishing element by element (x and y must not overlap each other).
    @inline(__always)
    public static func copyRun(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        if n >= 8 {
            var i = 0
            while i &+ 8 < n { store(load(x, i), y, i); i &+= 8 }
            store(load(x, n &- 8), y, n &- 8)
        } else {
            var i = 0
            while i < n { y[i] = x[i]; i &+= 1 }
        }
    }

    /// y[i] = x[i] + c
    @inline(__always)
    public static func copyAdding(_ x: UnsafePointer<Float>, _ c: Float, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        var i = 0
        let v = V(repeating: c)
        while i &+ 8 <= n { store(load(x, i) + v, y, i); i &+= 8 }
        while i < n { y[i] = x[i] + c; i &+= 1 }
    }

    /// y[i] = x[i]; returns Σ x[i], summed in 8 lanes (not in index order).
    @inline(__always)
    public static func copySumming(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        var i = 0
        var lanes = V(repeating: 0)
        while i &+ 8 <= n { let v = load(x, i); store(v, y, i); lanes += v; i &+= 8 }
        var s = lanes.sum()
        while i < n { y[i] = x[i]; s += x[i]; i &+= 1 }
        return s
    }

    /// y[i] = Float(x[i]) / 255, as torchvision's ToTensor scales bytes. (The compiler
    /// vectorises this loop itself; SIMD16<UInt8> conversions compile to a slower call.)
    public static func bytesToUnit(_ x: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = Float(x[i]) / 255 }
    }
}
