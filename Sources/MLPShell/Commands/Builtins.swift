/// Every built-in command, grouped as `help` shows them. Each group's file defines its own.
public func builtinCommands() -> [Command] {
    dataCommands() + modelCommands() + trainingCommands() + resultCommands() + runCommands() + inspectionCommands() + checkpointCommands() + pluginCommands() + sessionCommands() + stateCommands()
}

/// Checks that a command got exactly the positional words it takes.
func expectArguments(_ inv: Invocation, _ range: ClosedRange<Int>, usage: String) throws {
    guard range.contains(inv.positional.count) else {
        let what = inv.positional.count < range.lowerBound ? "missing argument" : "too many arguments"
        throw EngineError("\(what): expected '\(usage)'")
    }
}

import MLPEngine
