import Foundation

/// Draws a Chart as an SVG document in the quiet look of matplotlib's defaults: a 640×480
/// figure, a framed plot area with outward ticks and numbers, axis labels, a title, and a
/// legend; series in the default colour cycle, dashed ones with stroke-dasharray, and a
/// filled circle on every data point (so that a series of one point shows).
enum SVGChart {
    static let colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]

    /// The radius of a data point's circle, as matplotlib's default marker size of 6 points.
    static let markerRadius = 3.0

    /// The figure's size in pixels, as matplotlib's default 6.4x4.8 inches at 100 dpi.
    static let width = 640, height = 480

    static func render(_ chart: Chart) -> String {
        let width = Double(Self.width), height = Double(Self.height)
        let left = 80.0, right = 620.0, top = 48.0, bottom = 420.0
        let (xr, yr) = chart.bounds
        // Pad by 5% each side, as matplotlib's autoscale margins do.
        let xPadded = padded(xr, by: 0.05), yPadded = padded(yr, by: 0.05)
        let xlo = xPadded.lowerBound, xhi = xPadded.upperBound, ylo = yPadded.lowerBound, yhi = yPadded.upperBound
        func px(_ x: Double) -> Double { left + fraction(x, in: xPadded) * (right - left) }
        func py(_ y: Double) -> Double { bottom - fraction(y, in: yPadded) * (bottom - top) }
        func f(_ v: Double) -> String { String(format: "%.2f", v) }

        var s = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="DejaVu Sans, Arial, sans-serif">
        <rect x="0" y="0" width="\(Int(width))" height="\(Int(height))" fill="#ffffff"/>
        <text x="\(f((left + right) / 2))" y="\(f(top - 14))" text-anchor="middle" font-size="16" fill="#000000">\(escape(chart.title))</text>

        """
        // Ticks and their numbers.
        let xticks = niceTicks(xr, count: 8, integers: true).filter { $0 >= xlo && $0 <= xhi }
        let xstep = xticks.count > 1 ? xticks[1] - xticks[0] : 1
        s += "<g id=\"x-axis\" stroke=\"#000000\" stroke-width=\"0.8\">\n"
        for t in xticks {
            s += "<line x1=\"\(f(px(t)))\" y1=\"\(f(bottom))\" x2=\"\(f(px(t)))\" y2=\"\(f(bottom + 5))\"/>\n"
        }
        s += "</g>\n<g font-size=\"12\" text-anchor=\"middle\" fill=\"#000000\">\n"
        for t in xticks {
            s += "<text x=\"\(f(px(t)))\" y=\"\(f(bottom + 20))\">\(tickLabel(t, step: xstep))</text>\n"
        }
        s += "</g>\n"
        let yticks = niceTicks(ylo...yhi, count: 7)
        let ystep = yticks.count > 1 ? yticks[1] - yticks[0] : 1
        s += "<g id=\"y-axis\" stroke=\"#000000\" stroke-width=\"0.8\">\n"
        for t in yticks {
            s += "<line x1=\"\(f(left - 5))\" y1=\"\(f(py(t)))\" x2=\"\(f(left))\" y2=\"\(f(py(t)))\"/>\n"
        }
        s += "</g>\n<g font-size=\"12\" text-anchor=\"end\" fill=\"#000000\">\n"
        for t in yticks {
            s += "<text x=\"\(f(left - 8))\" y=\"\(f(py(t) + 4))\">\(tickLabel(t, step: ystep))</text>\n"
        }
        s += "</g>\n"
        // Axis labels.
        s += "<text x=\"\(f((left + right) / 2))\" y=\"\(f(bottom + 44))\" text-anchor=\"middle\" font-size=\"13\">\(escape(chart.xLabel))</text>\n"
        s += "<text x=\"\(f(left - 56))\" y=\"\(f((top + bottom) / 2))\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 \(f(left - 56)) \(f((top + bottom) / 2)))\">\(escape(chart.yLabel))</text>\n"
        // The series.
        for (i, series) in chart.series.enumerated() where !series.points.isEmpty {
            let points = series.points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            let dash = series.dashed ? " stroke-dasharray=\"7.4,3.2\"" : ""
            s += "<polyline class=\"series\" data-name=\"\(escape(series.name))\" fill=\"none\" stroke=\"\(colours[i % colours.count])\" stroke-width=\"1.5\" stroke-linejoin=\"round\"\(dash) points=\"\(points)\"/>\n"
            s += "<g class=\"markers\" data-name=\"\(escape(series.name))\" fill=\"\(colours[i % colours.count])\" stroke=\"none\">\n"
            for p in series.points {
                s += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"\(f(markerRadius))\"/>\n"
            }
            s += "</g>\n"
        }
        // The frame, over the lines' ends.
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(right - left))\" height=\"\(f(bottom - top))\" fill=\"none\" stroke=\"#000000\" stroke-width=\"0.8\"/>\n"
        // The legend, in the corner the curves cross least (matplotlib's loc="best").
        let legendWidth = 24.0 + 8 + Double(chart.series.map(\.name.count).max() ?? 4) * 7.5 + 12
        let legendHeight = Double(chart.series.count) * 20 + 8
        let corners = [(right - legendWidth - 10, top + 10), (right - legendWidth - 10, bottom - legendHeight - 10),
                       (left + 10, top + 10), (left + 10, bottom - legendHeight - 10)]
        var pixels: [(x: Double, y: Double)] = []
        for series in chart.series {
            // Points along each segment too, so a steep line through the box counts.
            for (p, q) in zip(series.points, series.points.dropFirst()) {
                for t in 0...4 {
                    let w = Double(t) / 4
                    pixels.append((px(interpolate(p.x, q.x, w)), py(interpolate(p.y, q.y, w))))
                }
            }
            for p in series.points { pixels.append((px(p.x), py(p.y))) }
        }
        func covered(_ corner: (Double, Double)) -> Int {
            let x0 = corner.0 - 4, x1 = corner.0 + legendWidth + 4, y0 = corner.1 - 4, y1 = corner.1 + legendHeight + 4
            return pixels.filter { $0.x >= x0 && $0.x <= x1 && $0.y >= y0 && $0.y <= y1 }.count
        }
        let counts = corners.map(covered)
        let (lx, ly) = corners[counts.firstIndex(of: counts.min()!)!]
        s += "<g id=\"legend\">\n<rect x=\"\(f(lx))\" y=\"\(f(ly))\" width=\"\(f(legendWidth))\" height=\"\(f(legendHeight))\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.8\" stroke=\"#cccccc\"/>\n"
        for (i, series) in chart.series.enumerated() {
            let y = ly + 14 + Double(i) * 20
            let dash = series.dashed ? " stroke-dasharray=\"7.4,3.2\"" : ""
            s += "<line x1=\"\(f(lx + 8))\" y1=\"\(f(y))\" x2=\"\(f(lx + 36))\" y2=\"\(f(y))\" stroke=\"\(colours[i % colours.count])\" stroke-width=\"1.5\"\(dash)/>\n"
            s += "<circle cx=\"\(f(lx + 22))\" cy=\"\(f(y))\" r=\"\(f(markerRadius))\" fill=\"\(colours[i % colours.count])\"/>\n"
            s += "<text x=\"\(f(lx + 44))\" y=\"\(f(y + 4))\" font-size=\"12\">\(escape(series.name))</text>\n"
        }
        s += "</g>\n</svg>\n"
        return s
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
