import Foundation

/// A line chart's content, whatever draws it: titled axes and named series of (x, y) points.
/// Drawing is total: points that are not finite are left out, and every position is computed
/// so that no finite value (±1e308, epoch Int.max, 1e17 next to 1e17 + 16) overflows, loops
/// or divides by zero.
struct Chart {
    struct Series {
        let name: String
        let points: [(x: Double, y: Double)]
        let dashed: Bool

        init(name: String, points: [(x: Double, y: Double)], dashed: Bool) {
            self.name = name
            self.points = points.filter { $0.x.isFinite && $0.y.isFinite }
            self.dashed = dashed
        }
    }
    let title: String
    let xLabel: String
    let yLabel: String
    let series: [Series]

    /// Whether any series has a point to draw.
    var isEmpty: Bool { series.allSatisfy(\.points.isEmpty) }

    /// The smallest and largest x and y over every series, widened when flat.
    var bounds: (x: ClosedRange<Double>, y: ClosedRange<Double>) {
        let xs = series.flatMap { $0.points.map(\.x) }, ys = series.flatMap { $0.points.map(\.y) }
        func range(_ v: [Double]) -> ClosedRange<Double> {
            guard let lo = v.min(), let hi = v.max() else { return 0...1 }
            guard lo == hi else { return lo...hi }
            // Wide enough to be seen next to the value's own size (1e17 ± 0.5 is 1e17).
            let w = max(0.5, abs(lo) * 1e-6)
            return clampedFinite(lo - w)...clampedFinite(hi + w)
        }
        return (range(xs), range(ys))
    }
}

/// v, with ±infinity brought back to the largest finite magnitude.
func clampedFinite(_ v: Double) -> Double {
    min(max(v, -.greatestFiniteMagnitude), .greatestFiniteMagnitude)
}

/// lo + (hi − lo)·t, without overflow for any finite lo and hi.
func interpolate(_ lo: Double, _ hi: Double, _ t: Double) -> Double {
    let span = hi - lo
    return span.isFinite ? lo + span * t : lo * (1 - t) + hi * t
}

/// Where v lies in `range`, 0 at its start and 1 at its end, without overflow.
func fraction(_ v: Double, in range: ClosedRange<Double>) -> Double {
    let lo = range.lowerBound, hi = range.upperBound
    let span = hi - lo
    if span.isFinite { return span > 0 ? (v - lo) / span : 0.5 }
    let half = hi / 2 - lo / 2
    return half > 0 ? (v / 2 - lo / 2) / half : 0.5
}

/// `range` widened by `margin` of its span on each side (matplotlib's autoscale margins).
func padded(_ range: ClosedRange<Double>, by margin: Double) -> ClosedRange<Double> {
    let lo = range.lowerBound, hi = range.upperBound
    let pad = (hi / 2 - lo / 2) * 2 * margin
    let plo = clampedFinite(lo - pad), phi = clampedFinite(hi + pad)
    return plo < phi ? plo...phi : range
}

/// Tick positions at "nice" steps (1, 2, 2.5 or 5 × 10^k) covering `range` with about
/// `count` ticks; the ends alone when no step fits (a span beyond a double, or too narrow
/// for its magnitude to hold distinct ticks).
func niceTicks(_ range: ClosedRange<Double>, count: Int = 6, integers: Bool = false) -> [Double] {
    let lo = range.lowerBound, hi = range.upperBound
    let span = hi - lo
    let ends = lo == hi ? [lo] : [lo, hi]
    guard span > 0, span.isFinite else { return ends }
    let raw = span / Double(max(count - 1, 1))
    let magnitude = pow(10, floor(log10(raw)))
    var step = [1, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
    if integers { step = max(1, step.rounded(.up)) }
    guard step.isFinite, step > 0 else { return ends }
    // Ticks by index, first ... last, so that a step too small to change a large value
    // cannot loop.
    let first = (lo / step).rounded(.up), last = (hi / step + 1e-9).rounded(.down)
    guard first.isFinite, last.isFinite, last >= first, last - first <= 1000 else { return ends }
    var ticks: [Double] = []
    for i in 0...Int(last - first) {
        let t = (first + Double(i)) * step
        let tick = abs(t) < step * 1e-9 ? 0 : t
        if tick.isFinite && tick != ticks.last { ticks.append(tick) }
    }
    return ticks.isEmpty ? ends : ticks
}

/// A tick label with as few decimals as the step needs; very large or small values in
/// exponent form.
func tickLabel(_ v: Double, step: Double) -> String {
    guard step.isFinite, step > 0, step >= 1e-6, abs(v) < 1e9 else { return String(format: "%.6g", v) }
    let decimals = step >= 1 ? 0 : min(6, Int(ceil(-log10(step) - 1e-9)) + (step * pow(10, ceil(-log10(step))) == 2.5 ? 1 : 0))
    return String(format: "%.\(decimals)f", v)
}
