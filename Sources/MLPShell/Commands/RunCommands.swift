import Foundation
import MLPEngine

/// The run history: every `train` as the store keeps it (see RunStore).
func runCommands() -> [Command] {
    [
        Command(name: "runs", group: "Results", usage: "runs [last=N] | runs show ID | runs script ID | runs compare ID ID ... | runs rm ID",
                summary: "the run history: every train, with its settings and epochs",
                details: """
                Every train is recorded in a SQLite database: $MLPSH_RUNS, else $XDG_DATA_HOME/mlpsh/runs.sqlite
                (~/.local/share/mlpsh/runs.sqlite). 'runs' lists one row a run: id, started, status (running,
                finished, interrupted, failed), epochs, the last test_acc, seconds, name. 'runs show ID' tells all
                of one run: what the session ran, the model, loss, optimizer, schedule, seed, threads, data sets,
                each epoch's line and the files written. 'runs script ID' prints the statements that made the run,
                variables expanded, as a script that reproduces it (runs script 3 > run3.mlp). 'runs compare ID ID ...' shows the settings side by side,
                one row a setting (lr  0.05  0.02), those that differ first and marked '*', then each run's final numbers. 'runs rm ID' deletes a run. 'plot loss runs=ID,ID' draws them.
                """,
                options: [OptionSpec("last", "20", "how many runs to list")], arguments: [.word, .run],
                example: "runs compare 3 4", run: runs),
    ]
}

private func runs(_ inv: Invocation, _ o: Options, _ s: Session) throws {
    // Under mpirun the run history is rank 0's, as its recording is: the others do nothing
    // (and learn of an error in the statement's agreement).
    guard Distributed.isLead else { return }
    let verb = inv.positional.first ?? "list"
    // Only rm writes: the others read, and work on a store they cannot write.
    let store = try verb == "rm" ? s.runs.open() : s.runs.openForReading()
    let ids = try inv.positional.dropFirst().map { word -> Int64 in
        guard let id = Int64(word), id > 0 else { throw EngineError("'\(word)' is not a run id (see 'runs')") }
        return id
    }
    switch verb {
    case "list":
        try expectArguments(inv, 0...0, usage: "runs [last=N]")
        let list = try store.list(last: try o.int("last", min: 1, max: 1_000_000))
        if list.isEmpty { s.console.print("no runs yet: every train is recorded in \(RunStore.defaultPath)"); return }
        var csv = "id,started,status,epochs,test_acc,seconds,name\n"
        for r in list {
            let acc = r.epochs.last?.testAccuracy.map { String(format: "%.1f%%", $0 * 100) } ?? "-"
            let seconds = r.seconds.map { String(format: "%.1f", $0) } ?? "-"
            csv += "\(r.id),\(timeText(r.started)),\(r.status),\(r.epochs.count),\(acc),\(seconds),\(tableName(printable(r.name)))\n"
        }
        s.console.write(alignedTable(csv))
    case "show":
        try expectArguments(inv, 2...2, usage: "runs show ID")
        let r = try store.run(ids[0])
        var out = "run \(r.id)\(r.name.isEmpty ? "" : " (\(r.name))"): \(r.status), started \(timeText(r.started))"
        if let seconds = r.seconds { out += String(format: ", %.1f s", seconds) }
        out += "\n"
        for (key, value) in settings(r) { out += "\(key): \(value.contains("\n") ? "\n  " + value.replacingOccurrences(of: "\n", with: "\n  ") : value)\n" }
        out += "source (the statements that took effect, up to this train; 'runs script \(r.id) > run\(r.id).mlp' saves them):\n  "
            + r.source.replacingOccurrences(of: "\n", with: "\n  ") + "\n"
        out += "epochs:\n" + r.epochs.map { "  " + $0.line + "\n" }.joined()
        out += "files:" + (r.files.isEmpty ? " none\n" : "\n" + r.files.map { "  \($0)\n" }.joined())
        s.console.write(printable(out, keepingNewlines: true))
    case "compare":
        guard ids.count >= 2 else { throw EngineError("runs compare needs at least two run ids: 'runs compare 3 4'") }
        let list = try ids.map { try store.run($0) }
        s.console.write(settingsTable(list))
        var csv = "run,name,status,epochs,train_loss,train_acc,test_loss,test_acc,seconds\n"
        for r in list {
            let e = r.epochs.last
            csv += "\(r.id),\(tableName(r.name)),\(r.status),\(r.epochs.count),"
            csv += e.map { String(format: "%.6f,%.1f%%,", $0.trainLoss, $0.trainAccuracy * 100) } ?? "-,-,"
            csv += e?.testLoss.map { String(format: "%.5f,", $0) } ?? "-,"
            csv += e?.testAccuracy.map { String(format: "%.1f%%,", $0 * 100) } ?? "-,"
            csv += r.seconds.map { String(format: "%.1f", $0) } ?? "-"
            csv += "\n"
        }
        s.console.write("\n" + alignedTable(printable(csv, keepingNewlines: true)))
    case "script":
        // The run's source alone, to save and replay: mlpsh -c "runs script 3" > run3.mlp
        try expectArguments(inv, 2...2, usage: "runs script ID")
        let r = try store.run(ids[0])
        s.console.write(printable(r.source, keepingNewlines: true) + "\n")
    case "rm":
        try expectArguments(inv, 2...2, usage: "runs rm ID")
        try store.remove(ids[0])
        s.console.print("run \(ids[0]) deleted")
    default:
        var msg = "unknown runs command '\(verb)': expected show, script, compare or rm (or nothing, for the list)"
        if let near = nearestName(to: verb, in: ["show", "script", "compare", "rm"]) { msg += "; did you mean '\(near)'?" }
        throw EngineError(msg)
    }
}

/// The runs' settings side by side, one row a setting (`lr  0.05  0.02`), as MLflow compares
/// runs: the train command's options, the loss's, optimizer's and schedule's names and
/// options, the model, seed, threads and data. Rows that differ come first, marked with '*'.
func settingsTable(_ runs: [RunStore.Run]) -> String {
    let columns = runs.map(flatSettings)
    var keys: [String] = []
    for c in columns { for (k, _) in c where !keys.contains(k) { keys.append(k) } }
    let values = columns.map { Dictionary($0, uniquingKeysWith: { a, _ in a }) }
    let differ = keys.filter { k in Set(values.map { $0[k] ?? "-" }).count > 1 }
    let same = keys.filter { !differ.contains($0) }
    func cell(_ text: String) -> String {
        let flat = printable(text.replacingOccurrences(of: "\n", with: " | "))
        return flat.count > 60 ? String(flat.prefix(59)) + "…" : flat
    }
    var rows = [["", "setting"] + runs.map { "run \($0.id)" }]
    for k in differ { rows.append(["*", k] + values.map { cell($0[k] ?? "-") }) }
    for k in same { rows.append(["", k] + values.map { cell($0[k] ?? "-") }) }
    let widths = (0..<rows[0].count).map { i in rows.map { $0[i].count }.max() ?? 0 }
    var out = differ.isEmpty ? "the runs' settings are the same\n" : ""
    for row in rows {
        let line = zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
        out += line.replacingOccurrences(of: " +$", with: "", options: .regularExpression) + "\n"
    }
    return out
}

/// A run's settings as (name, value) rows: components split into their name and options.
private func flatSettings(_ r: RunStore.Run) -> [(String, String)] {
    var rows: [(String, String)] = [("name", r.name)]
    var seen = Set<String>()
    func add(_ component: String, _ text: String, namesItself: Bool) {
        var words = text.split(separator: " ").map(String.init)
        if namesItself, let first = words.first, !first.contains("=") {
            rows.append((component, first))
            words.removeFirst()
        }
        for w in words {
            guard let eq = w.firstIndex(of: "="), eq != w.startIndex else { continue }
            var key = String(w[..<eq])
            if seen.contains(key) { key = "\(component) \(key)" }
            seen.insert(key)
            rows.append((key, String(w[w.index(after: eq)...])))
        }
    }
    add("train", r.command, namesItself: false)
    add("loss", r.loss, namesItself: true)
    add("optimizer", r.optimizer, namesItself: true)
    add("schedule", r.schedule, namesItself: true)
    rows += [("model", r.model), ("seed", String(r.seed)), ("threads", String(r.threads)), ("data", r.datasets)]
    return rows
}

/// A run's name as a cell of a comma-separated table: its commas made ';', and at most 60
/// characters of it (a name from another store may be any length).
private func tableName(_ name: String) -> String {
    let cell = name.replacingOccurrences(of: ",", with: ";")
    return cell.count > 60 ? String(cell.prefix(59)) + "…" : cell
}

/// A run's settings, in the order compare and show list them.
private func settings(_ r: RunStore.Run) -> [(String, String)] {
    [("name", r.name), ("train", r.command), ("model", r.model), ("loss", r.loss), ("optimizer", r.optimizer),
     ("schedule", r.schedule), ("seed", String(r.seed)), ("threads", String(r.threads)), ("data", r.datasets)]
}

/// "2026-11-28 10:15:02", local time.
private func timeText(_ seconds: Double) -> String {
    let f = DateFormatter()
    f.dateFormat = "yyyy-MM-dd HH:mm:ss"
    return f.string(from: Date(timeIntervalSince1970: seconds))
}

/// The chart of `what` for several runs: one curve a run (test values where the run has
/// them, else train), labelled by run.
func runsChart(_ what: String, ids text: String, _ s: Session) throws -> Chart {
    let ids = try text.split(separator: ",").map { word -> Int64 in
        guard let id = Int64(word), id > 0 else { throw EngineError("runs=\(text): '\(word)' is not a run id") }
        return id
    }
    guard !ids.isEmpty else { throw EngineError("runs= needs run ids: runs=3,4") }
    let store = try s.runs.openForReading()
    let isLoss = what == "loss"
    var series: [Chart.Series] = []
    for id in ids {
        let r = try store.run(id)
        // A store is a file anyone may have edited: test values only where every epoch has both.
        let test = r.epochs.allSatisfy { $0.testLoss != nil && $0.testAccuracy != nil }
        let points = r.epochs.map { e -> (x: Double, y: Double) in
            let v = isLoss ? (test ? e.testLoss ?? .nan : e.trainLoss) : (test ? e.testAccuracy ?? .nan : e.trainAccuracy) * 100
            return (Double(e.epoch) + 1, v)
        }
        let label = "run \(id)" + (r.name.isEmpty ? "" : " \(r.name)") + (test ? "" : " (train)")
        series.append(Chart.Series(name: label, points: points, dashed: false))
    }
    let title = isLoss ? "Test loss" : "Test accuracy"
    let chart = Chart(title: title, xLabel: "epoch", yLabel: isLoss ? "loss" : "accuracy (%)", series: series)
    guard !chart.isEmpty else { throw EngineError("runs \(text) have no epochs to plot") }
    return chart
}
