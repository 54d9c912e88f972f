import ArgumentParser
import Foundation
import MLPEngine
import MLPShell

@main
struct MLPSH: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlpsh",
        abstract: "Train and run small neural networks from a command language.",
        usage: """
            mlpsh                            the interactive prompt
            mlpsh FILE.mlp [NAME=VALUE ...]  run a script
            mlpsh -c "CMD; CMD ..." [NAME=VALUE ...]
            mlpsh - [NAME=VALUE ...]         run a script read from standard input
            mlpsh kernel install [--user]    register the Jupyter kernel
            """,
        // Every line at most 78 columns (and the options' help, beside ArgumentParser's
        // 26-column names, at most 52), so that ArgumentParser, which wraps what is wider
        // than the terminal, leaves the layout as written on an 80-column terminal.
        discussion: """
            MODES
              With no FILE, mlpsh starts the prompt (mlp> ), with line editing,
              history and Tab completion.
              With FILE it runs the script and stops at the first error:
              FILE:LINE: error: WHAT, exit status 1.
              -c runs commands separated by ';'. '-' reads a script from standard
              input, and so does mlpsh without FILE when standard input is not a
              terminal (a pipe, a file).

            VARIABLES
              NAME=VALUE arguments define variables before the script runs, as
              'set NAME VALUE' would, and win over a 'set' of the same name:
              'mlpsh Examples/mnist_mlp.mlp epochs=2'. A variable the script never
              uses ($NAME, in it or the files it includes) is an error, not ignored.

            ENVIRONMENT
              MLPSH_DATA         folder holding data sets: $MLPSH_DATA/mnist,
                                 $MLPSH_DATA/fashion_mnist
              MLPSH_HISTORY      the history file (default ~/.mlpsh_history)
              MLPSH_PLUGIN_PATH  colon-separated folders searched for plugin libraries
              MLPSH_THREADS      the kernels' threads, unless 'threads N' says
                                 otherwise; else OPENBLAS_NUM_THREADS, else
                                 OMP_NUM_THREADS, else the CPUs this process may
                                 use (affinity mask, cgroup CPU quota)
              MLPSH_RUNS         the run history (default $XDG_DATA_HOME/mlpsh/
                                 runs.sqlite); off or /dev/null: none kept
              MLPSH_MPI_TIMEOUT  under mpirun, the seconds a rank waits in a
                                 collective for the others (default 60; 0: no limit)

            FILES
              ~/.mlpshrc         commands run when the prompt starts (skip with --norc)
              ~/.mlpsh_history   the prompt's history
              ./data/mnist       where MNIST is looked for (scripts/fetch-mnist puts
                                 it there)

            Type 'help' at the prompt, or run mlpsh -c help, for the commands.
            """,
        version: "mlpsh \(mlpshVersion) (engine \(engineVersion))")

    @Option(name: .customShort("c"), help: ArgumentHelp("Run these commands (separated by ';') and exit.", valueName: "commands"))
    var commands: String?

    @Flag(name: .long, help: "Do not run ~/.mlpshrc at start.")
    var norc = false

    @Flag(inversion: .prefixedNo, help: "Progress bar on stderr (default: on at a terminal).")
    var progress: Bool?

    @Flag(name: .long, help: "kernel install: for you alone (~/.local/share).")
    var user = false

    @Option(name: .long, help: ArgumentHelp("kernel install: into DIR/share/jupyter.", valueName: "dir"))
    var prefix: String?

    @Argument(help: ArgumentHelp("A script ('-' reads standard input), NAME=VALUE ...", valueName: "file-and-variables"))
    var arguments: [String] = []

    func run() throws {
        // `mlpsh kernel CONNECTION_FILE` and `mlpsh kernel install ...`: the notebook front end.
        if arguments.first == "kernel" && commands == nil && !FileManager.default.fileExists(atPath: "kernel") {
            do {
                if arguments.count == 2 && arguments[1] == "install" {
                    let options = (user ? ["--user"] : []) + (prefix.map { ["--prefix", $0] } ?? [])
                    let folder = try KernelSpec.install(arguments: options, executable: KernelSpec.executablePath)
                    print("installed the mlpsh kernel in \(folder)")
                    return
                }
                guard arguments.count == 2 else { throw EngineError("usage: mlpsh kernel CONNECTION_FILE, or mlpsh kernel install [--user|--prefix DIR]") }
                try Kernel(connectionFile: arguments[1]).run()
            } catch let e as EngineError {
                StandardStreams.write("mlpsh: error: \(e.message)\n", to: STDERR_FILENO)
                throw ExitCode(1)
            }
        }
        guard !user && prefix == nil else { throw ValidationError("--user and --prefix go with 'mlpsh kernel install'") }
        var file: String?
        var variables: [String: String] = [:]
        for arg in arguments {
            if let eq = arg.firstIndex(of: "="), eq != arg.startIndex {
                let name = String(arg[..<eq])
                guard Lexer.isVariableName(name) else {
                    throw ValidationError("'\(name)' in '\(arg)' is not a variable name")
                }
                variables[name] = String(arg[arg.index(after: eq)...])
            } else if file == nil && commands == nil {
                file = arg
            } else {
                throw ValidationError("unexpected argument '\(arg)': expected NAME=VALUE")
            }
        }
        let console = Console.standard()
        console.showsProgress = progress ?? (isatty(STDERR_FILENO) == 1)
        console.isTerminal = isatty(STDOUT_FILENO) == 1
        let runner = Runner(console: console, variables: variables)
        let status: Int32
        let interactive = commands == nil && file == nil && isatty(STDIN_FILENO) == 1
        if !interactive { Signals.install(interactive: false) }
        for setting in ThreadCount.resolved.ignored {
            StandardStreams.write("mlpsh: warning: \(setting) is not a number of threads; using \(BLAS.threadCount)\n", to: STDERR_FILENO)
        }
        if ParallelJob.isLaunched {
            // mpirun started this process: every rank runs the same script.
            guard commands != nil || (file != nil && file != "-") else {
                StandardStreams.write("mlpsh: error: under mpirun, mlpsh runs a script: mpirun -np N mlpsh FILE.mlp\n", to: STDERR_FILENO)
                throw ExitCode(1)
            }
            do {
                try ParallelJob.join(runner.session)
            } catch {
                StandardStreams.write("mlpsh: error: \((error as? EngineError)?.message ?? "\(error)")\n", to: STDERR_FILENO)
                throw ExitCode(1)
            }
        }
        defer { Distributed.communicator?.finish() }
        if let commands {
            status = runner.runCommands(commands)
        } else if file == "-" {
            status = runner.runStandardInput()
        } else if let file {
            status = runner.runScript(path: file)
        } else if isatty(STDIN_FILENO) != 1 {
            // Input that is not a terminal is a script, as '-' says: errors stop it with a line number.
            status = runner.runStandardInput()
        } else {
            status = REPL(runner: runner, loadRC: !norc).run()
        }
        if let sig = Signals.endingSignal {
            Distributed.communicator?.finish()
            // Stopped by SIGINT, SIGTERM or SIGHUP: said (the terminal is gone after SIGHUP),
            // and ended by the same signal, so that the parent sees it.
            // (Under mpirun the ranks' agreement has said it.)
            if sig != SIGHUP && Distributed.group == nil {
                StandardStreams.write("mlpsh: stopped by \(Signals.name(sig))\n", to: STDERR_FILENO)
            }
            Signals.endProcess(with: sig)
        }
        throw ExitCode(status)
    }
}
