import Foundation

/// A line chart's content, whatever draws it: titled axes and named series of (x, y) points.
struct Chart {
    struct Series {
        let name: String
        let points: [(x: Double, y: Double)]
        let dashed: Bool
    }
    let title: String
    let xLabel: String
    let yLabel: String
    let series: [Series]

    /// The smallest and largest x and y over every series, widened when flat.
    var bounds: (x: ClosedRange<Double>, y: ClosedRange<Double>) {
        let xs = series.flatMap { $0.points.map(\.x) }, ys = series.flatMap { $0.points.map(\.y) }
        func range(_ v: [Double]) -> ClosedRange<Double> {
            guard let lo = v.min(), let hi = v.max() else { return 0...1 }
            return lo == hi ? (lo - 0.5)...(hi + 0.5) : lo...hi
        }
        return (range(xs), range(ys))
    }
}

/// Tick positions at "nice" steps (1, 2, 2.5 or 5 × 10^k) covering `range` with about `count` ticks.
func niceTicks(_ range: ClosedRange<Double>, count: Int = 6, integers: Bool = false) -> [Double] {
    let span = range.upperBound - range.lowerBound
    guard span > 0, span.isFinite else { return [range.lowerBound] }
    let raw = span / Double(max(count - 1, 1))
    let magnitude = pow(10, floor(log10(raw)))
    var step = [1, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
    if integers { step = max(1, step.rounded(.up)) }
    var ticks: [Double] = []
    var t = (range.lowerBound / step).rounded(.up) * step
    while t <= range.upperBound + step * 1e-9 {
        ticks.append(abs(t) < step * 1e-9 ? 0 : t)
        t += step
    }
    return ticks
}

/// A tick label with as few decimals as the step needs.
func tickLabel(_ v: Double, step: Double) -> String {
    let decimals = step >= 1 ? 0 : min(6, Int(ceil(-log10(step) - 1e-9)) + (step * pow(10, ceil(-log10(step))) == 2.5 ? 1 : 0))
    return String(format: "%.\(decimals)f", v)
}
