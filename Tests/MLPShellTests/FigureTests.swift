import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import MLPShell
import MLPEngine

/// What the figures show of each data point: a mark at every point of every series, in the
/// SVG (so in the PNG rendered from it) and in the terminal, a history of one epoch included;
/// in the terminal each series has its own mark, which the legend names.
final class FigureTests: FolderTestCase {
    private final class Captured {
        var out = ""
        var err = ""
    }

    /// The attributes of an XML element by name (attribute(forName:) misses attributes of
    /// namespaced elements on Linux).
    private func attributes(_ node: XMLNode) -> [String: String] {
        var a: [String: String] = [:]
        for attribute in (node as? XMLElement)?.attributes ?? [] { a[attribute.name ?? ""] = attribute.stringValue }
        return a
    }

    /// The circles of each series' markers group and the points of its polyline, by series name.
    private func marksAndLines(_ svg: String) throws -> [String: (marks: [(Double, Double)], line: [(Double, Double)])] {
        let doc = try XMLDocument(data: Data(svg.utf8), options: [])
        var found: [String: (marks: [(Double, Double)], line: [(Double, Double)])] = [:]
        for group in try doc.nodes(forXPath: "//*[local-name()='g']") {
            let a = attributes(group)
            guard a["class"] == "markers", let name = a["data-name"] else { continue }
            let circles = try group.nodes(forXPath: "*[local-name()='circle']").map(attributes)
            found[name, default: ([], [])].marks = circles.map { (Double($0["cx"] ?? "") ?? .nan, Double($0["cy"] ?? "") ?? .nan) }
        }
        for line in try doc.nodes(forXPath: "//*[local-name()='polyline']") {
            let a = attributes(line)
            guard a["class"] == "series", let name = a["data-name"], let points = a["points"] else { continue }
            found[name, default: ([], [])].line = points.split(separator: " ").map { p in
                let xy = p.split(separator: ",").map { Double($0) ?? .nan }
                return (xy[0], xy[1])
            }
        }
        return found
    }

    /// The rows of a terminal chart's plot area, without the y scale.
    private func plotRows(_ text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in line.firstIndex(of: "┤").map { String(line[line.index(after: $0)...]) } }
    }

    /// The mark characters on a terminal chart's plot area: whatever is not a braille cell.
    private func marks(_ text: String) -> [Character] {
        marks(inRow: plotRows(text).joined())
    }

    /// The mark characters on rows of a plot area.
    private func marks(inRow row: String) -> [Character] {
        row.filter { c in !c.unicodeScalars.allSatisfy { (0x2800...0x28FF).contains($0.value) } }
    }

    func testOneEpochPlotsAMarkAtItsPoint() throws {
        let c = Captured()
        let runner = Runner(console: Console(write: { c.out += $0 }, writeError: { c.err += $0 }), variables: [:])
        runner.session.history = [EpochResult(epoch: 0, trainLoss: 0.9, trainAccuracy: 0.6, testLoss: 0.8, testAccuracy: 0.7,
                                               learningRate: 0.1, seconds: 1)]
        let svgPath = path("one.svg"), pngPath = path("one.png")
        let status = runner.guarded {
            try runner.interpreter.run(source: "plot loss out=\(svgPath)\nplot accuracy out=\(pngPath)\nplot loss", file: "t.mlp")
        }
        XCTAssertEqual(status, 0, c.err)

        // The SVG: one circle a series, in the middle of the plot area's width (the one
        // epoch's x range is widened around it, not divided by its zero span).
        let series = try marksAndLines(try String(contentsOfFile: svgPath, encoding: .utf8))
        XCTAssertEqual(Set(series.keys), ["train", "test"])
        for (name, s) in series {
            XCTAssertEqual(s.marks.count, 1, "\(name): one mark for one epoch")
            guard let (x, y) = s.marks.first else { continue }
            XCTAssertEqual(x, (80 + 620) / 2, accuracy: 0.01, "\(name): the epoch is the x range's middle")
            XCTAssertTrue(y >= 48 && y <= 420, "\(name): y \(y) inside the plot area")
        }
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: pngPath)).prefix(4)), [0x89, 0x50, 0x4E, 0x47])

        // The terminal: the point is a mark character on the plot area.
        XCTAssertEqual(plotRows(c.out).count, 14, c.out)
        XCTAssertEqual(marks(c.out).count, 2, "a mark for train and one for test in\n\(c.out)")
        XCTAssertFalse(c.out.contains("nan") || c.out.contains("inf"), c.out)
    }

    func testEveryPointOfEveryCurveHasAMark() throws {
        let train = [(1.0, 2.3), (2, 1.1), (3, 0.7), (4, 0.5), (5, 0.45)], test = [(1.0, 2.0), (2, 1.3), (3, 0.9), (4, 0.8), (5, 0.79)]
        let chart = Chart(title: "Loss", xLabel: "epoch", yLabel: "loss", series: [
            Chart.Series(name: "train", points: train.map { (x: $0.0, y: $0.1) }, dashed: false),
            Chart.Series(name: "test", points: test.map { (x: $0.0, y: $0.1) }, dashed: true),
        ])
        let series = try marksAndLines(SVGChart.render(chart))
        XCTAssertEqual(Set(series.keys), ["train", "test"])
        for (name, s) in series {
            XCTAssertEqual(s.line.count, 5, "\(name): the curve is drawn")
            XCTAssertEqual(s.marks.count, 5, "\(name): a mark a point")
            for (m, p) in zip(s.marks, s.line) {
                XCTAssertEqual(m.0, p.0, accuracy: 0.01, name)
                XCTAssertEqual(m.1, p.1, accuracy: 0.01, name)
            }
        }
        let text = TerminalChart.render(chart, columns: 80)
        XCTAssertEqual(marks(text).count, 10, text)
        XCTAssertTrue(plotRows(text).joined().unicodeScalars.contains { (0x2801...0x28FF).contains($0.value) }, "the lines between the marks in\n\(text)")
    }

    func testEachSeriesHasItsOwnMarkInTheTerminalAndTheLegendNamesIt() throws {
        // Three runs at three levels, bottom to top; a name with an escape sequence from the
        // run history's file.
        let names = ["run 3 lenet", "run 4 \u{1B}[2Jwide", "run 5 (train)"]
        let chart = Chart(title: "Test loss", xLabel: "epoch", yLabel: "loss", series: names.enumerated().map { i, name in
            Chart.Series(name: name, points: (1...3).map { (x: Double($0), y: Double(4 * i + 1)) }, dashed: false)
        })
        let text = TerminalChart.render(chart, columns: 80)
        let rows = plotRows(text)
        XCTAssertEqual(rows.count, 14, text)
        // Each series' marks lie on its own row, three a series, and no two series share a mark.
        let markedRows = rows.filter { !marks(inRow: $0).isEmpty }
        XCTAssertEqual(markedRows.count, 3, text)
        var seen: [Character] = []
        for (i, row) in markedRows.reversed().enumerated() {
            let onRow = marks(inRow: row)
            XCTAssertEqual(onRow.count, 3, "series \(i): three points in\n\(text)")
            guard let m = onRow.first else { continue }
            XCTAssertTrue(onRow.allSatisfy { $0 == m }, "series \(i): one mark in '\(row)'")
            XCTAssertFalse(seen.contains(m), "series \(i) has the mark \(m) of another in\n\(text)")
            seen.append(m)
        }
        XCTAssertEqual(marks(text).count, 9, text)
        // The legend, under the x axis, gives each series' mark next to its printable name.
        let legend = text.split(separator: "\n").drop { !$0.contains("epoch") }.dropFirst().joined(separator: "\n")
        for (m, name) in zip(seen, ["run 3 lenet", "run 4 \\e[2Jwide", "run 5 (train)"]) {
            XCTAssertTrue(legend.contains("\(m)─ \(name)") || legend.contains("\(m)- \(name)"), "\(m) \(name) in the legend:\n\(legend)")
        }
        XCTAssertFalse(text.contains("\u{1B}"), "an escape reaches the terminal:\n\(text)")
        for line in text.split(separator: "\n") { XCTAssertLessThanOrEqual(line.count, 80, String(line)) }

        // More series than marks: the legend wraps to the width, and every series is in it.
        let many = Chart(title: "Test loss", xLabel: "epoch", yLabel: "loss", series: (1...10).map { i in
            Chart.Series(name: "run \(i) a long run name", points: [(x: 1, y: Double(i)), (x: 2, y: Double(i) / 2)], dashed: false)
        })
        let wide = TerminalChart.render(many, columns: 80)
        for line in wide.split(separator: "\n") { XCTAssertLessThanOrEqual(line.count, 80, String(line)) }
        for i in 1...10 { XCTAssertTrue(wide.contains("run \(i) a long run name"), wide) }
        XCTAssertEqual(Set(marks(wide)).count, 8, "eight marks, then the first again:\n\(wide)")
    }
}
