import Foundation

/// Draws a Chart in the terminal with Unicode braille dots (2×4 dots a cell), sized to the
/// terminal's width: the first series solid, the second dotted, a y scale on the left. Every
/// data point is drawn as its series' mark character over the line, so that a series of one
/// point shows and several series tell apart; the legend names each series after its mark.
enum TerminalChart {
    /// The characters drawn at the data points: one a series, in order, again from the first
    /// after the last.
    static let marks: [Character] = ["*", "o", "+", "x", "#", "@", "%", "&"]

    /// The mark of the series at `index`.
    static func mark(_ index: Int) -> Character { marks[index % marks.count] }

    static func render(_ chart: Chart, columns: Int) -> String {
        let labelWidth = 9
        let cols = max(20, min(columns, 160) - labelWidth - 2), rows = 14
        let (xr, yr) = chart.bounds
        var cells = [[UInt8]](repeating: [UInt8](repeating: 0, count: cols), count: rows)
        var marked = [[Character?]](repeating: [Character?](repeating: nil, count: cols), count: rows)
        let bits: [[UInt8]] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]]
        /// The braille dot (column, row) of a point, nil when it falls outside the chart.
        func dot(_ x: Double, _ y: Double) -> (x: Int, y: Int)? {
            let fx = (fraction(x, in: xr) * Double(cols * 2 - 1)).rounded()
            let fy = ((1 - fraction(y, in: yr)) * Double(rows * 4 - 1)).rounded()
            guard fx >= 0, fx < Double(cols * 2), fy >= 0, fy < Double(rows * 4) else { return nil }
            return (Int(fx), Int(fy))
        }
        func plot(_ x: Double, _ y: Double) {
            guard let d = dot(x, y) else { return }
            cells[d.y / 4][d.x / 2] |= bits[d.y % 4][d.x % 2]
        }
        for (i, series) in chart.series.enumerated() {
            for p in series.points {
                guard let d = dot(p.x, p.y) else { continue }
                marked[d.y / 4][d.x / 2] = mark(i)
            }
            for (a, b) in zip(series.points, series.points.dropFirst()) {
                let steps = 2 * cols / max(series.points.count - 1, 1) + 2
                for k in 0...steps {
                    // A dashed series leaves every other stretch out.
                    if i % 2 == 1 && (k / 2) % 2 == 1 { continue }
                    let t = Double(k) / Double(steps)
                    plot(interpolate(a.x, b.x, t), interpolate(a.y, b.y, t))
                }
            }
        }
        var out = "\(chart.title)\n"
        for r in 0..<rows {
            let y = interpolate(yr.upperBound, yr.lowerBound, Double(r) / Double(rows - 1))
            let label = (r == 0 || r == rows - 1 || r == rows / 2) ? String(format: "%8.4g", y) : String(repeating: " ", count: 8)
            out += label + " ┤" + String(cells[r].indices.map { c in marked[r][c] ?? Character(Unicode.Scalar(0x2800 + UInt32(cells[r][c]))!) }) + "\n"
        }
        out += String(repeating: " ", count: labelWidth) + "└" + String(repeating: "─", count: cols) + "\n"
        let xl = String(format: "%g", xr.lowerBound), xh = String(format: "%g", xr.upperBound)
        // The x scale's ends under the axis' ends, its label between them.
        let gap = cols - xl.count - xh.count - chart.xLabel.count
        out += String(repeating: " ", count: labelWidth + 1) + xl
        if gap >= 2 {
            out += String(repeating: " ", count: gap / 2) + chart.xLabel + String(repeating: " ", count: gap - gap / 2) + xh + "\n"
        } else {
            out += String(repeating: " ", count: max(1, cols - xl.count - xh.count)) + xh + "  \(chart.xLabel)\n"
        }
        out += legend(chart.series, indent: labelWidth + 1, width: labelWidth + 2 + cols)
        return out
    }

    /// The legend: each series' line and mark, then its name made printable (run names come
    /// from the run history's file), as many a line as fit in `width` columns.
    static func legend(_ series: [Chart.Series], indent: Int, width: Int) -> String {
        let entries = series.indices.map { i in
            (i % 2 == 0 ? "─\(mark(i))─" : "-\(mark(i))-") + " " + printable(series[i].name)
        }
        var lines: [String] = []
        for entry in entries {
            if let last = lines.last, indent + last.count + 3 + entry.count <= width {
                lines[lines.count - 1] += "   " + entry
            } else {
                lines.append(entry)
            }
        }
        return lines.map { String(repeating: " ", count: indent) + $0 + "\n" }.joined()
    }
}
