import Foundation
import MLPEngine

/// `show` and `reset`: the whole state at a glance, as sqlite3's `.show`, and starting over.
func stateCommands() -> [Command] {
    [
        Command(name: "show", group: "Session", usage: "show",
                summary: "the whole state: data sets, model, loss, optimizer, schedule, seed, threads, epochs done",
                example: "show", run: { inv, _, s in
                    try expectArguments(inv, 0...0, usage: "show")
                    s.console.write(stateReport(s))
                }),
        Command(name: "reset", group: "Session", usage: "reset",
                summary: "forgets the model, loss, optimizer, schedule and history (data sets and variables stay)",
                example: "reset", run: { inv, _, s in
                    try expectArguments(inv, 0...0, usage: "reset")
                    s.reset()
                }),
    ]
}

/// One aligned `NAME: VALUE` row a part of the state.
func stateReport(_ s: Session) -> String {
    var rows: [(String, String)] = []
    let names = s.datasets.keys.sorted()
    rows.append(("data", names.isEmpty ? "(none)" : names.map { "\($0): \(printable(s.datasets[$0]!.summary))" }.joined(separator: "\n")))
    if let model = s.model {
        rows.append(("model", model.layers.map(\.definition).joined(separator: "\n")))
        rows.append(("parameters", grouped(model.parameterCount)))
    } else {
        rows.append(("model", "(none)"))
    }
    rows.append(("loss", s.loss?.definition ?? "(none)"))
    rows.append(("optimizer", s.optimizer?.definition ?? "(none)"))
    rows.append(("schedule", s.schedule.definition))
    rows.append(("seed", String(s.random.seed)))
    rows.append(("threads", BLAS.threadCount.description))
    rows.append(("epochs done", String(s.history.count)))
    let width = rows.map(\.0.count).max()! + 2
    var out = ""
    for (name, value) in rows {
        for (i, line) in value.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            out += (i == 0 ? name + ":" : "").padding(toLength: width, withPad: " ", startingAt: 0) + line + "\n"
        }
    }
    return out
}
