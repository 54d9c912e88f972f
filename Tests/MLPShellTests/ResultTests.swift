import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import MLPShell
import MLPEngine

/// What `plot`, `summary`, `predict`, `confusion`, `history` and `train log=` give after a
/// real (small) MNIST run: the figures are parsed as XML and checked against the history.
final class ResultTests: FolderTestCase {
    private final class Captured {
        var out = ""
        var err = ""
    }

    /// A runner whose session persists across `run` calls, as the REPL's does.
    private func makeRunner() -> (Runner, Captured) {
        let c = Captured()
        let console = Console(write: { c.out += $0 }, writeError: { c.err += $0 })
        return (Runner(console: console, variables: ["mnist": ScriptTests.mnistFolder]), c)
    }

    @discardableResult
    private func run(_ runner: Runner, _ c: Captured, _ text: String) -> (status: Int32, out: String) {
        c.out = ""
        let status = runner.guarded { try runner.interpreter.run(source: text, file: "t.mlp") }
        return (status, c.out)
    }

    /// A trained session: 3 epochs on 3,000 MNIST images, tested on 1,000.
    private func trained(log: String? = nil) throws -> (Runner, Captured, [String]) {
        try Fixtures.requireMNIST()
        let (runner, c) = makeRunner()
        let r = run(runner, c, """
            seed 0
            data train mnist split=train limit=3000 path=$mnist
            data test  mnist split=test  limit=1000 path=$mnist
            \(Fixtures.mnistModel)
            loss cross_entropy
            optim sgd lr=0.05
            train epochs=3 batch=64 shuffle=true\(log.map { " log=\($0)" } ?? "")
            """)
        XCTAssertEqual(r.status, 0, c.err)
        let lines = r.out.split(separator: "\n").map(String.init).filter { $0.hasPrefix("epoch:") }
        XCTAssertEqual(lines.count, 3, r.out)
        return (runner, c, lines)
    }

    // MARK: - plot

    /// The polylines of an SVG by their data-name, as (x, y) pixel pairs.
    private func polylines(_ svgPath: String) throws -> (doc: XMLDocument, series: [String: (points: [(Double, Double)], dashed: Bool)]) {
        let doc = try XMLDocument(contentsOf: URL(fileURLWithPath: svgPath), options: [])
        var series: [String: (points: [(Double, Double)], dashed: Bool)] = [:]
        for node in try doc.nodes(forXPath: "//*[local-name()='polyline']") {
            // (attribute(forName:) misses attributes of namespaced elements on Linux.)
            var a: [String: String] = [:]
            for attribute in (node as? XMLElement)?.attributes ?? [] { a[attribute.name ?? ""] = attribute.stringValue }
            guard a["class"] == "series", let name = a["data-name"], let points = a["points"] else { continue }
            let pairs = points.split(separator: " ").map { p -> (Double, Double) in
                let xy = p.split(separator: ",").compactMap { Double($0) }
                return (xy[0], xy[1])
            }
            series[name] = (pairs, a["stroke-dasharray"] != nil)
        }
        return (doc, series)
    }

    /// Checks that pixel coordinates are one affine map of the data: x from the epoch, y from
    /// the value, larger values drawn higher.
    private func assertAffine(_ pixels: [(Double, Double)], _ data: [(Double, Double)], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(pixels.count, data.count, file: file, line: line)
        guard pixels.count >= 2, pixels.count == data.count else { return }
        let (i, j) = (0, data.indices.max { abs(data[$0].1 - data[0].1) < abs(data[$1].1 - data[0].1) }!)
        let sx = (pixels.last!.0 - pixels[0].0) / (data.last!.0 - data[0].0)
        let sy = (pixels[j].1 - pixels[i].1) / (data[j].1 - data[i].1)
        XCTAssertGreaterThan(sx, 0, "x grows with the epoch", file: file, line: line)
        XCTAssertLessThan(sy, 0, "larger values are drawn higher", file: file, line: line)
        for (p, d) in zip(pixels, data) {
            XCTAssertEqual(p.0, pixels[0].0 + sx * (d.0 - data[0].0), accuracy: 0.02, file: file, line: line)
            XCTAssertEqual(p.1, pixels[i].1 + sy * (d.1 - data[i].1), accuracy: 0.02, file: file, line: line)
        }
    }

    func testPlotsAreSVGWhoseCurvesAreTheHistory() throws {
        let (runner, c, _) = try trained()
        let session = runner.session
        let loss = path("loss.svg"), accuracy = path("accuracy.svg")
        XCTAssertEqual(run(runner, c, "plot loss out=\(loss)\nplot accuracy out=\(accuracy)").status, 0, c.err)
        let h = session.history
        for (file, train, test, title) in [
            (loss, h.map(\.trainLoss), h.map { $0.testLoss! }, "Loss"),
            (accuracy, h.map { $0.trainAccuracy * 100 }, h.map { $0.testAccuracy! * 100 }, "Accuracy"),
        ] {
            let (doc, series) = try polylines(file)
            XCTAssertEqual(doc.rootElement()?.localName, "svg")
            let texts = try doc.nodes(forXPath: "//*[local-name()='text']").compactMap(\.stringValue)
            XCTAssertTrue(texts.contains(title), "title in \(texts)")
            XCTAssertTrue(texts.contains("epoch"), "x label in \(texts)")
            XCTAssertTrue(texts.contains("train") && texts.contains("test"), "legend in \(texts)")
            XCTAssertGreaterThanOrEqual(texts.filter { Double($0) != nil }.count, 4, "tick numbers in \(texts)")
            let trainLine = try XCTUnwrap(series["train"]), testLine = try XCTUnwrap(series["test"])
            XCTAssertFalse(trainLine.dashed, "train is solid")
            XCTAssertTrue(testLine.dashed, "test is dashed")
            // x is the epoch 1...N.
            assertAffine(trainLine.points, train.enumerated().map { (Double($0 + 1), $1) })
            assertAffine(testLine.points, test.enumerated().map { (Double($0 + 1), $1) })
            // The legend sits where no curve's point is.
            let box = try XCTUnwrap(try doc.nodes(forXPath: "//*[local-name()='g'][@id='legend']/*[local-name()='rect']").first as? XMLElement)
            var r: [String: Double] = [:]
            for attribute in box.attributes ?? [] { r[attribute.name ?? ""] = Double(attribute.stringValue ?? "") }
            let (x, y, w, hgt) = (r["x"]!, r["y"]!, r["width"]!, r["height"]!)
            for p in trainLine.points + testLine.points {
                XCTAssertFalse(p.0 >= x && p.0 <= x + w && p.1 >= y && p.1 <= y + hgt, "\(title): point \(p) under the legend")
            }
            // Both curves share one scale: the first train and test points map alike.
            XCTAssertEqual(trainLine.points[0].0, testLine.points[0].0, accuracy: 0.01)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("nowhere")))
        let bad = run(runner, c, "plot loss out=\(path("nowhere/loss.svg"))")
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(c.err.contains("nowhere"), c.err)
    }

    func testPlotWithoutOutDrawsInTheTerminal() throws {
        let (runner, c, _) = try trained()
        let r = run(runner, c, "plot accuracy")
        XCTAssertEqual(r.status, 0, c.err)
        XCTAssertTrue(r.out.unicodeScalars.contains { (0x2800...0x28FF).contains($0.value) }, "braille curve in\n\(r.out)")
        XCTAssertTrue(r.out.contains("Accuracy"), r.out)
    }

    // MARK: - summary

    func testSummaryCountsForSeveralModels() {
        let (runner, c) = makeRunner()
        for (model, total) in [
            ("linear 784 120\nrelu\nlinear 120 84\nrelu\nlinear 84 10", "105,214"),
            ("linear 784 10", "7,850"),
            ("linear 784 256\ndropout p=0.2\ntanh\nlinear 256 10\nlog_softmax", "203,530"),
            ("linear 4 3\nsigmoid", "15"),
            ("linear 1000 1000\nlinear 1000 1000", "2,002,000"),
        ] {
            let r = run(runner, c, "model\n\(model)\nend\nsummary")
            XCTAssertEqual(r.status, 0, c.err)
            XCTAssertTrue(r.out.contains("Total params: \(total)\n"), r.out)
            XCTAssertTrue(r.out.contains("Trainable params: \(total)\n"), r.out)
            XCTAssertEqual(r.out.split(separator: "\n").filter { $0.first?.isNumber == true }.count,
                           model.split(separator: "\n").count, "one row a layer:\n\(r.out)")
        }
    }

    // MARK: - predict

    private func predicted(_ out: String) -> String? {
        guard let r = out.range(of: "predicted: ") else { return nil }
        return String(out[r.upperBound...].prefix { $0 != " " })
    }

    /// The probabilities printed one a line after the prediction, as numbers.
    private func probabilities(_ out: String) -> [Double] {
        out.split(separator: "\n").filter { $0.hasPrefix("  ") }.compactMap { line in
            line.split(separator: " ").dropFirst().first.flatMap { Double($0) }
        }
    }

    func testPredictOnTestIndexPNGAndPGM() throws {
        let (runner, c, _) = try trained()
        let first = run(runner, c, "predict test:0")
        XCTAssertEqual(first.status, 0, c.err)
        XCTAssertTrue(first.out.contains("label: 7"), first.out)   // MNIST's first test image is a 7
        XCTAssertEqual(predicted(first.out), "7", first.out)
        let p = probabilities(first.out)
        XCTAssertEqual(p.count, 10, first.out)
        XCTAssertEqual(p.reduce(0, +), 1, accuracy: 0.002)
        XCTAssertFalse(first.out.contains("█████████\n│"), "no image when not a terminal")
        XCTAssertTrue(run(runner, c, "predict test:0 show=true").out.contains("┌"), "show=true draws the image")

        // The same image as a PNG, drawn dark on light at twice the size: inverted and resized back.
        let test = try MNISTLoader.load(name: "mnist", options: Options(["split": "test", "limit": "1", "path": ScriptTests.mnistFolder],
                                                                         specs: [OptionSpec("split", "train", ""), OptionSpec("limit", "", ""), OptionSpec("path", "", "")], owner: "t")) as! ByteImageDataset
        let digit = GreyImage(width: 28, height: 28, pixels: Array(test.image(0)))
        var big = [UInt8](repeating: 0, count: 56 * 56)
        for y in 0..<56 { for x in 0..<56 { big[y * 56 + x] = 255 - digit.pixels[(y / 2) * 28 + x / 2] } }
        let png = path("seven.png")
        try Data(try GreyImage(width: 56, height: 56, pixels: big).pngData()).write(to: URL(fileURLWithPath: png))
        let fromPNG = run(runner, c, "predict \(png)")
        XCTAssertEqual(fromPNG.status, 0, c.err)
        XCTAssertEqual(predicted(fromPNG.out), "7", fromPNG.out)
        for (a, b) in zip(probabilities(fromPNG.out), p) { XCTAssertEqual(a, b, accuracy: 0.0002) }

        // And as a binary PGM at its own size.
        let pgm = path("seven.pgm")
        try Data(Array("P5\n# a seven\n28 28\n255\n".utf8) + digit.pixels).write(to: URL(fileURLWithPath: pgm))
        let fromPGM = run(runner, c, "predict \(pgm)")
        XCTAssertEqual(fromPGM.status, 0, c.err)
        XCTAssertEqual(probabilities(fromPGM.out), p, fromPGM.out)

        for (bad, words) in [("predict test:10000", "outside"), ("predict \(path("none.png"))", "no such file"),
                             ("predict \(path("seven.mlp"))", "no such file"), ("predict", "missing argument")] {
            XCTAssertEqual(run(runner, c, bad).status, 1, bad)
            XCTAssertTrue(c.err.contains(words), "\(bad): \(c.err)")
        }
        let text = path("not-an-image.png")
        try "hello".write(toFile: text, atomically: true, encoding: .utf8)
        XCTAssertEqual(run(runner, c, "predict \(text)").status, 1)
        XCTAssertTrue(c.err.contains("not a PNG, JPEG or PGM"), c.err)
    }

    func testPredictRunsInEvalMode() throws {
        let (runner, c) = makeRunner()
        XCTAssertEqual(run(runner, c, """
            seed 0
            data test synthetic classes=3 features=4 n=30
            model
              linear 4 8
              dropout p=0.9
              linear 8 3
            end
            """).status, 0, c.err)
        let outs = (0..<5).map { _ in run(runner, c, "predict test:3").out }
        XCTAssertEqual(Set(outs).count, 1, "dropout must be off:\n\(outs.joined())")
        XCTAssertTrue(runner.session.model!.isTraining, "training mode is restored")
    }

    // MARK: - confusion

    func testConfusionSumsToTheTestSetAndItsDiagonalIsTestAcc() throws {
        let (runner, c, lines) = try trained()
        let r = run(runner, c, "confusion")
        XCTAssertEqual(r.status, 0, c.err)
        let rows = r.out.split(separator: "\n").map(String.init)
        let header = try XCTUnwrap(rows.firstIndex { $0.hasPrefix("rows:") })
        let matrix = rows[(header + 2)..<(header + 12)].map { $0.split(separator: " ").dropFirst().compactMap { Int($0) } }
        XCTAssertEqual(matrix.map(\.count), Array(repeating: 10, count: 10), r.out)
        XCTAssertEqual(matrix.joined().reduce(0, +), 1000)
        let diagonal = (0..<10).reduce(0) { $0 + matrix[$1][$1] }
        let acc = try XCTUnwrap(lines.last.flatMap { $0.range(of: "test_acc:") .map { l in Double(lines.last![l.upperBound...].dropLast())! } })
        XCTAssertEqual(Double(diagonal) / 10, acc, accuracy: 0.05)
        XCTAssertTrue(r.out.contains(String(format: "accuracy: %.2f%% (%d of 1000)", Double(diagonal) / 10, diagonal)), r.out)
        // Recall of class 0 is its diagonal over its row.
        XCTAssertTrue(r.out.contains(String(format: "%.1f%%", Double(matrix[0][0]) / Double(matrix[0].reduce(0, +)) * 100)), r.out)
    }

    func testConfusionNamesFashionClasses() {
        var m = ConfusionMatrix(classes: 10)
        m.add(truth: 9, predicted: 9)
        m.add(truth: 9, predicted: 7)
        let table = confusionTable(m, names: MNISTLoader.fashionNames, title: "t")
        XCTAssertTrue(table.contains("9 Ankle boot"), table)
        XCTAssertTrue(table.contains("Ankle boot"), table)
        XCTAssertEqual(m.recall(9), 0.5)
        XCTAssertEqual(m.precision(7), 0)
        XCTAssertNil(m.precision(0))
        XCTAssertEqual(m.accuracy, 0.5)
    }

    /// F1 and the macro averages as scikit-learn's classification_report gives them: truth
    /// [0, 0, 0, 1, 1, 2], predicted [0, 0, 1, 1, 2, 2]: precision 1, 0.5, 0.5; recall 2/3,
    /// 0.5, 1; F1 0.8, 0.5, 2/3; macro 0.6667, 0.7222, 0.6556.
    func testConfusionGivesF1AndMacroAverages() {
        var m = ConfusionMatrix(classes: 4)
        for (t, p) in [(0, 0), (0, 0), (0, 1), (1, 1), (1, 2), (2, 2)] { m.add(truth: t, predicted: p) }
        XCTAssertEqual(m.f1(0)!, 0.8, accuracy: 1e-12)
        XCTAssertEqual(m.f1(1)!, 0.5, accuracy: 1e-12)
        XCTAssertEqual(m.f1(2)!, 2.0 / 3, accuracy: 1e-12)
        XCTAssertNil(m.f1(3))   // neither present nor predicted: not in the average
        let macro = try! XCTUnwrap(m.macroAverage)
        XCTAssertEqual(macro.precision, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(macro.recall, (2.0 / 3 + 0.5 + 1) / 3, accuracy: 1e-12)
        XCTAssertEqual(macro.f1, (0.8 + 0.5 + 2.0 / 3) / 3, accuracy: 1e-12)
        let table = confusionTable(m, names: [], title: "t")
        XCTAssertTrue(table.contains("f1"), table)
        XCTAssertTrue(table.contains("macro avg") && table.contains("65.6%") && table.contains("72.2%"), table)
        // A class present but never predicted right has F1 0.
        var z = ConfusionMatrix(classes: 2)
        z.add(truth: 0, predicted: 1)
        XCTAssertEqual(z.f1(0), 0)
        XCTAssertEqual(z.f1(1), 0)
    }

    // MARK: - history and train log=

    func testCSVLogAgreesWithThePrintedLines() throws {
        let log = path("run.csv")
        let (runner, c, lines) = try trained(log: log)
        let csv = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(csv.first, "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds")
        XCTAssertEqual(csv.count, 4)
        for (row, line) in zip(csv.dropFirst(), lines) {
            let f = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            XCTAssertEqual(f.count, 7, row)
            let rebuilt = String(format: "epoch:%2d,train_loss:%.6f,train_acc:%.1f%%,test_loss:%.5f,test_acc:%.1f%%",
                                 Int(f[0])!, Double(f[1])!, Double(f[2])! * 100, Double(f[3])!, Double(f[4])! * 100)
            XCTAssertEqual(rebuilt, line)
            XCTAssertEqual(Double(f[5]), 0.05)
            XCTAssertGreaterThan(Double(f[6])!, 0)
        }
        let history = run(runner, c, "history")
        XCTAssertEqual(history.out.split(separator: "\n").map { $0.split(separator: " ").joined(separator: ",") }, csv)
        XCTAssertEqual(run(runner, c, "history out=\(path("h.csv"))").status, 0)
        XCTAssertEqual(try String(contentsOfFile: path("h.csv"), encoding: .utf8).split(separator: "\n").map(String.init), csv)
        XCTAssertEqual(run(runner, c, "history out=\(path("no/such/folder/h.csv"))").status, 1)
        XCTAssertTrue(c.err.contains("no/such/folder"), c.err)
    }
}
