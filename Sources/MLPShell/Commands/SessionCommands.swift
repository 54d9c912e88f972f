import Foundation
import MLPEngine

func sessionCommands() -> [Command] {
    [
        Command(name: "help", group: "Session", usage: "help [NAME]",
                summary: "lists everything, or describes one command, layer, loss, optimizer or dataset",
                arguments: [.command], example: "help linear", run: { inv, _, s in
                    try expectArguments(inv, 0...1, usage: "help [NAME]")
                    s.console.write(try inv.positional.first.map { try helpText(for: $0, session: s) } ?? helpOverview(s))
                }),
        Command(name: "set", group: "Session", usage: "set [NAME VALUE ...]",
                summary: "defines a variable, used later as $NAME or ${NAME}; alone, lists them",
                details: "A variable given on the command line (mlpsh FILE NAME=VALUE) wins over 'set'.",
                arguments: [.variable, .word], example: "set epochs 50", run: { inv, _, s in
                    if inv.positional.isEmpty && inv.options.isEmpty {
                        let all = s.variables.merging(s.overrides) { $1 }
                        for k in all.keys.sorted() { s.console.print("\(k)=\(all[k]!)") }
                        return
                    }
                    guard inv.options.isEmpty else { throw EngineError("set takes NAME VALUE, not NAME=VALUE: write 'set \(inv.options.keys.sorted()[0]) \(inv.options.values.first!)'") }
                    try expectArguments(inv, 2...Int.max, usage: "set NAME VALUE")
                    let name = inv.positional[0]
                    guard Lexer.isVariableName(name) else { throw EngineError("'\(name)' is not a variable name (letters, digits and _, not starting with a digit)") }
                    s.variables[name] = inv.positional.dropFirst().joined(separator: " ")
                }),
        Command(name: "echo", group: "Session", usage: "echo WORDS", summary: "prints its words",
                arguments: [.word], example: "echo \"epochs: $epochs\"", delegatesOptions: true, run: { inv, _, s in
                    s.console.print(inv.words.map(\.text).joined(separator: " "))
                }),
        Command(name: "seed", group: "Session", usage: "seed N",
                summary: "seeds every random source: weight init, shuffling, dropout",
                details: "The generator is the Mersenne Twister seeded as torch.manual_seed seeds PyTorch's.",
                example: "seed 0", run: { inv, _, s in
                    if inv.positional.isEmpty { s.console.print("\(s.random.seed)"); return }
                    try expectArguments(inv, 1...1, usage: "seed N")
                    guard let v = UInt64(inv.positional[0]) else {
                        throw EngineError("seed '\(inv.positional[0])' is not a whole number from 0 to \(UInt64.max)")
                    }
                    s.random.reseed(v)
                }),
        Command(name: "threads", group: "Session", usage: "threads [N]", summary: "sets (or shows) the threads the kernels use",
                details: """
                    Large matrix products are split into N pieces, one a core (at most the cores there are).
                    The default is the CPUs mlpsh may use: MLPSH_THREADS, OPENBLAS_NUM_THREADS or OMP_NUM_THREADS
                    when set, else the affinity mask (taskset) and the cgroup's CPU quota, else the cores.
                    Without N, shows the number and where it came from: 2 (cores).
                    The last bits of results depend on N, as they do in PyTorch.
                    """,
                example: "threads 2", run: { inv, _, s in
                    if inv.positional.isEmpty { s.console.print(BLAS.threadCount.description); return }
                    try expectArguments(inv, 1...1, usage: "threads N")
                    let n = try parseInt(inv.positional[0], name: "N", owner: "threads", min: 1, max: 256)
                    BLAS.threads = n
                    if BLAS.threads < n { s.console.print("using \(BLAS.threads) threads: there are \(BLAS.threads) cores") }
                }),
        Command(name: "memory", group: "Session", usage: "memory",
                summary: "the process's resident memory now and at its peak",
                example: "memory", run: { inv, _, s in
                    try expectArguments(inv, 0...0, usage: "memory")
                    let m = residentMemory()
                    s.console.print(String(format: "resident %.1f MB, peak %.1f MB", Double(m.now) / 1e6, Double(m.peak) / 1e6))
                }),
        Command(name: "device", group: "Session", usage: "device [NAME]",
                summary: "shows the kernel backend in use (cpu: BLAS vendor, version, threads)",
                example: "device", run: { inv, _, s in
                    try expectArguments(inv, 0...1, usage: "device [NAME]")
                    if let name = inv.positional.first, name != "cpu" {
                        throw EngineError("this build has no '\(name)' backend (available: cpu)")
                    }
                    s.console.print("cpu: \(BLAS.configuration), \(BLAS.coreName) kernels, \(BLAS.threads) threads (\(BLAS.threadCount.source)) of \(BLAS.cores) cores")
                    if let c = Distributed.communicator { s.console.print(c.summary) }
                }),
        Command(name: "include", group: "Session", usage: "include FILE [NAME=VALUE ...]",
                summary: "runs another script; its errors are reported at its own lines",
                details: """
                    NAME=VALUE defines variables for the file as on the command line: while it runs they win
                    over its 'set NAME', and one the file never uses ($NAME) is an error.
                    """,
                arguments: [.path], example: "include Examples/mnist_mlp.mlp epochs=1", delegatesOptions: true, run: { inv, _, s in
                    try expectArguments(inv, 1...1, usage: "include FILE [NAME=VALUE ...]")
                    if let again = inv.repeatedOption { throw EngineError("include: \(again)= is given twice") }
                    guard let interpreter = s.interpreter else { throw EngineError("include needs an interpreter") }
                    try interpreter.include(path: inv.positional[0], variables: inv.options)
                }),
        Command(name: "quit", group: "Session", usage: "quit [STATUS]", summary: "leaves mlpsh",
                example: "quit", run: quit),
        Command(name: "exit", group: "Session", usage: "exit [STATUS]", summary: "leaves mlpsh", example: "exit", run: quit),
    ]
}

private func quit(_ inv: Invocation, _ o: Options, _ s: Session) throws {
    try expectArguments(inv, 0...1, usage: "\(inv.name) [STATUS]")
    let status = try inv.positional.first.map { try parseInt($0, name: "STATUS", owner: inv.name, min: 0, max: 255) } ?? 0
    throw ShellExit(status: Int32(status))
}

/// Resident memory in bytes, now and at its peak (VmRSS and VmHWM in /proc/self/status).
func residentMemory() -> (now: Int, peak: Int) {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Int {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first { Int($0) != nil } ?? "0") ?? 0) * 1024
    }
    return (field("VmRSS"), field("VmHWM"))
}
