import Foundation
import MLPEngine

/// A progress bar on standard error while training: epoch, batch i/n, samples a second,
/// running loss and time left, redrawn in place at most ten times a second. It draws only
/// when the console says standard error is a terminal.
final class ProgressReporter {
    private let console: Console
    private let samplesPerEpoch: Int
    private var started = Date()
    private var samplesAtStart = 0
    private var lastDraw = Date.distantPast
    private var drawn = false
    private var epoch = -1

    init(console: Console, samplesPerEpoch: Int) {
        self.console = console
        self.samplesPerEpoch = samplesPerEpoch
    }

    func update(_ p: TrainingProgress) {
        guard console.showsProgress else { return }
        // The clock starts at the epoch's first report: the rate counts the samples after it.
        if p.epoch != epoch { epoch = p.epoch; started = Date(); samplesAtStart = p.samples }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.1 || p.batch == p.of else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(started)
        let rate = elapsed > 0.05 ? Double(p.samples - samplesAtStart) / elapsed : 0
        let width = 24, filled = p.of > 0 ? width * p.batch / p.of : 0
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let speed = rate > 0 ? String(format: "%.0f samples/s  ", rate) : ""
        let left = rate > 0 ? "  " + formatSeconds(Double(samplesPerEpoch - p.samples) / rate) + " left" : ""
        let line = String(format: "epoch %d %@ %d/%d  %@loss %.4f%@", p.epoch, bar, p.batch, p.of, speed, p.runningLoss, left)
        console.writeError("\r\u{1B}[2K" + line)
        drawn = true
    }

    /// Erases the bar so the next line prints clean.
    func clear() {
        if drawn { console.writeError("\r\u{1B}[2K") }
        drawn = false
    }
}

func formatSeconds(_ s: Double) -> String {
    let t = Int(s.rounded())
    return t >= 60 ? String(format: "%d:%02d", t / 60, t % 60) : "\(t)s"
}
