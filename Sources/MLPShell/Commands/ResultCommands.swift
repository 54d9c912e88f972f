import Foundation
import MLPEngine

func resultCommands() -> [Command] {
    [
        Command(name: "plot", group: "Results", usage: "plot loss|accuracy [runs=ID,ID] [out=FILE.svg|FILE.png]",
                summary: "draws train and test loss (or accuracy) against epoch",
                details: "With out= the figure is written in the format its extension names: .svg, or .png (the same SVG\nrendered by librsvg at 1280x960); train solid, test dashed. Without out=, a chart in the terminal.",
                options: [OptionSpec("out", "", "the .svg or .png file to write"),
                          OptionSpec("runs", "", "runs from the run history instead, one curve a run (see 'runs')")], arguments: [.word],
                example: "plot loss out=loss.svg", run: { inv, o, s in
                    try expectArguments(inv, 1...1, usage: "plot loss|accuracy [runs=ID,ID] [out=FILE.svg|FILE.png]")
                    var chart = try historyChart(inv.positional[0], s.history, requireEpochs: !o.has("runs"))
                    if o.has("runs") { chart = try runsChart(inv.positional[0], ids: o.string("runs"), s) }
                    if o.has("out") {
                        let path = o.string("out")
                        guard !path.isEmpty else { throw EngineError("out= needs a file name") }
                        let svg = SVGChart.render(chart)
                        switch (path as NSString).pathExtension.lowercased() {
                        case "svg": try AtomicFile.write(svg, to: path)
                        case "png": try AtomicFile.write(try PNGRaster.png(fromSVG: svg, width: SVGChart.width, height: SVGChart.height), to: path)
                        case let other:
                            throw EngineError("out=\(path): \(other.isEmpty ? "no extension" : "'.\(other)'") names no format plot writes: use .svg or .png")
                        }
                        s.runs.wrote(path)
                    } else if let display = s.console.display {
                        // A notebook: the figure itself, as SVG and PNG, with the terminal chart as its text.
                        let svg = SVGChart.render(chart)
                        let png = try PNGRaster.png(fromSVG: svg, width: SVGChart.width, height: SVGChart.height)
                        display(["image/svg+xml": svg, "image/png": Data(png).base64EncodedString(),
                                 "text/plain": TerminalChart.render(chart, columns: 80)])
                    } else {
                        s.console.write(TerminalChart.render(chart, columns: TerminalSize.columns(of: STDOUT_FILENO)))
                    }
                }),
        Command(name: "history", group: "Results", usage: "history [out=FILE.csv]",
                summary: "the table of finished epochs: losses, accuracies, learning rate, seconds",
                options: [OptionSpec("out", "", "write the table as CSV to this file instead")],
                example: "history out=history.csv", run: { inv, o, s in
                    try expectArguments(inv, 0...0, usage: "history [out=FILE.csv]")
                    let csv = historyCSV(s.history)
                    if o.has("out") {
                        try AtomicFile.write(csv, to: o.string("out"))
                        s.runs.wrote(o.string("out"))
                    } else {
                        s.console.write(alignedTable(csv))
                    }
                }),
    ]
}

/// The chart of `what` (loss or accuracy) over the epochs of `history`; x is epoch 1..N.
func historyChart(_ what: String, _ history: [EpochResult], requireEpochs: Bool = true) throws -> Chart {
    guard what == "loss" || what == "accuracy" else {
        var msg = "cannot plot '\(what)': expected loss or accuracy"
        if let near = nearestName(to: what, in: ["loss", "accuracy"]) { msg += "; did you mean '\(near)'?" }
        throw EngineError(msg)
    }
    guard requireEpochs else { return Chart(title: "", xLabel: "", yLabel: "", series: []) }
    guard !history.isEmpty else { throw EngineError("nothing to plot yet: train first") }
    let isLoss = what == "loss"
    let train = history.map { (x: Double($0.epoch) + 1, y: isLoss ? $0.trainLoss : $0.trainAccuracy * 100) }
    var series = [Chart.Series(name: "train", points: train, dashed: false)]
    let test = history.compactMap { r -> (x: Double, y: Double)? in
        guard let l = r.testLoss, let a = r.testAccuracy else { return nil }
        return (Double(r.epoch) + 1, isLoss ? l : a * 100)
    }
    let val = history.compactMap { r -> (x: Double, y: Double)? in
        guard let l = r.valLoss, let a = r.valAccuracy else { return nil }
        return (Double(r.epoch) + 1, isLoss ? l : a * 100)
    }
    if !val.isEmpty { series.append(Chart.Series(name: "val", points: val, dashed: true)) }
    if !test.isEmpty { series.append(Chart.Series(name: "test", points: test, dashed: true)) }
    let chart = Chart(title: isLoss ? "Loss" : "Accuracy", xLabel: "epoch", yLabel: isLoss ? "loss" : "accuracy (%)", series: series)
    guard !chart.isEmpty else { throw EngineError("nothing to plot: the history's \(what) values are not finite numbers") }
    return chart
}

/// One row an epoch: epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds,val_loss,val_acc.
func historyCSV(_ history: [EpochResult]) -> String {
    let val = history.contains { $0.valLoss != nil }
    var out = csvHeader(validation: val)
    for r in history { out += csvRow(r, validation: val) }
    return out
}

/// CSV text with its columns padded to line up, for reading on a terminal.
func alignedTable(_ csv: String) -> String {
    let rows = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    let widths = (0..<(rows.map(\.count).max() ?? 0)).map { c in rows.map { c < $0.count ? $0[c].count : 0 }.max()! }
    return rows.map { row in
        row.enumerated().map { String(repeating: " ", count: widths[$0] - $1.count) + $1 }.joined(separator: "  ")
    }.joined(separator: "\n") + "\n"
}

/// The walkthrough's columns; with a validation set, val_loss and val_acc after them, so the
/// others keep their places.
func csvHeader(validation: Bool) -> String {
    "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds" + (validation ? ",val_loss,val_acc" : "") + "\n"
}

func csvRow(_ r: EpochResult, validation: Bool) -> String {
    let tl = r.testLoss.map { String(format: "%.5f", $0) } ?? ""
    let ta = r.testAccuracy.map { String(format: "%.4f", $0) } ?? ""
    let vl = r.valLoss.map { String(format: "%.5f", $0) } ?? ""
    let va = r.valAccuracy.map { String(format: "%.4f", $0) } ?? ""
    return String(format: "%d,%.6f,%.4f,", r.epoch, r.trainLoss, r.trainAccuracy) + "\(tl),\(ta),\(r.learningRate)," + String(format: "%.3f", r.seconds)
        + (validation ? ",\(vl),\(va)\n" : "\n")
}
