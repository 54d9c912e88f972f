import Foundation
import MLPEngine

/// A progress bar on standard error while training: epoch, batch i/n, samples a second,
/// running loss and time left, redrawn in place at most ten times a second. It draws only
/// when the console says standard error is a terminal. On a terminal without escape codes
/// (TERM dumb or unset: an editor's shell buffer, a serial line) it redraws with a carriage
/// return and spaces alone.
final class ProgressReporter {
    private let console: Console
    private let samplesPerEpoch: Int
    private let plain: Bool
    /// The length of the bar last drawn, for a plain terminal to blank it.
    private var drawnLength = 0
    private var started = Date()
    private var samplesAtStart = 0
    private var lastDraw = Date.distantPast
    private var drawn = false
    private var epoch = -1

    init(console: Console, samplesPerEpoch: Int, term: String? = ProcessInfo.processInfo.environment["TERM"]) {
        self.console = console
        self.samplesPerEpoch = samplesPerEpoch
        plain = term.map { $0.isEmpty || $0 == "dumb" } ?? true
    }

    func update(_ p: TrainingProgress) {
        guard console.showsProgress || console.progressDisplay != nil else { return }
        // The clock starts at the epoch's first report: the rate counts the samples after it.
        if p.epoch != epoch { epoch = p.epoch; started = Date(); samplesAtStart = p.samples }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.1 || p.batch == p.of else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(started)
        let rate = elapsed > 0.05 ? Double(p.samples - samplesAtStart) / elapsed : 0
        let left = rate > 0 ? formatSeconds(Double(samplesPerEpoch - p.samples) / rate) : nil
        if let show = console.progressDisplay {
            show(progressLine(epoch: p.epoch, batch: p.batch, of: p.of, rate: rate, loss: p.runningLoss, left: left, columns: 100))
            return
        }
        let line = progressLine(epoch: p.epoch, batch: p.batch, of: p.of, rate: rate, loss: p.runningLoss, left: left,
                                columns: TerminalSize.columns(of: STDERR_FILENO))
        if plain {
            console.writeError("\r" + line + String(repeating: " ", count: max(drawnLength - line.count, 0)))
        } else {
            console.writeError("\r\u{1B}[2K" + line)
        }
        drawn = true
        drawnLength = line.count
    }

    /// Erases the bar so the next line prints clean.
    func clear() {
        if drawn { console.writeError(plain ? "\r" + String(repeating: " ", count: drawnLength) + "\r" : "\r\u{1B}[2K") }
        drawn = false
        drawnLength = 0
    }
}

func formatSeconds(_ s: Double) -> String {
    let t = Int(s.rounded())
    return t >= 60 ? String(format: "%d:%02d", t / 60, t % 60) : "\(t)s"
}

/// The bar's line for a terminal `columns` wide: the whole line when it fits, else shorter —
/// without the rate, then with a narrower bar, then without the time left, then without the
/// bar — and never longer than columns − 1, so that a redraw never wraps.
func progressLine(epoch: Int, batch: Int, of: Int, rate: Double, loss: Double, left: String?, columns: Int) -> String {
    func bar(_ width: Int) -> String {
        let filled = of > 0 ? width * batch / of : 0
        return String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
    }
    let speed = rate > 0 ? String(format: "%.0f samples/s", rate) : nil
    let lossText = String(format: "loss %.4f", loss)
    func line(barWidth: Int, speed: String?, left: String?) -> String {
        var parts = ["epoch \(epoch)"]
        if barWidth > 0 { parts.append(bar(barWidth)) }
        parts.append("\(batch)/\(of)")
        var tail = [speed, lossText, left.map { $0 + " left" }].compactMap { $0 }
        tail = tail.isEmpty ? [] : [tail.joined(separator: "  ")]
        return (parts + tail).joined(separator: " ").replacingOccurrences(of: "\(batch)/\(of) ", with: "\(batch)/\(of)  ")
    }
    let limit = max(columns - 1, 1)
    let tries = [line(barWidth: 24, speed: speed, left: left), line(barWidth: 24, speed: nil, left: left)]
        + stride(from: 20, through: 8, by: -4).map { line(barWidth: $0, speed: nil, left: left) }
        + [line(barWidth: 8, speed: nil, left: nil), line(barWidth: 0, speed: nil, left: nil)]
    if let fits = tries.first(where: { $0.count <= limit }) { return fits }
    return String(tries.last!.prefix(limit))
}
