import CZMQ
import Crypto
import Foundation
import MLPEngine

/// `mlpsh kernel CONNECTION_FILE`: a Jupyter kernel. The shell channel runs cells through the
/// same interpreter as the prompt (one session for the whole notebook); their output goes to
/// iopub as `stream` messages, figures as `display_data`. Heartbeat and control answer on
/// threads of their own, so they answer while `train` runs; an interrupt (SIGINT, the
/// kernelspec's interrupt_mode) stops `train` after its batch, as Ctrl-C does at the prompt.
/// A message whose signature is wrong is dropped and logged, never run.
public final class Kernel {
    let interpreter: Interpreter
    let session: Session
    let signer: KernelMessage.Signer
    let id = UUID().uuidString
    private let context: UnsafeMutableRawPointer
    private let shell: ZMQSocket, control: ZMQSocket, iopub: ZMQSocket, stdin: ZMQSocket, heartbeat: ZMQSocket
    private let iopubLock = NSLock()
    private var executionCount = 0
    /// The message being answered: what iopub messages name as their parent.
    private var current: KernelMessage?

    public init(connectionFile: String) throws {
        guard let data = FileManager.default.contents(atPath: connectionFile),
              let c = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw EngineError("kernel: \(connectionFile) is not a Jupyter connection file (JSON)")
        }
        let transport = c["transport"] as? String ?? "tcp", ip = c["ip"] as? String ?? "127.0.0.1"
        func address(_ key: String) throws -> String {
            guard let port = c[key] as? Int else { throw EngineError("kernel: \(connectionFile) has no \(key)") }
            return "\(transport)://\(ip):\(port)"
        }
        let scheme = c["signature_scheme"] as? String ?? "hmac-sha256", key = c["key"] as? String ?? ""
        guard scheme == "hmac-sha256" || key.isEmpty else { throw EngineError("kernel: signature_scheme \(scheme) is not hmac-sha256") }
        signer = KernelMessage.Signer(key: key.isEmpty ? nil : SymmetricKey(data: Data(key.utf8)))
        context = zmq_ctx_new()
        shell = try ZMQSocket(context: context, type: ZMQ_ROUTER, address: try address("shell_port"))
        control = try ZMQSocket(context: context, type: ZMQ_ROUTER, address: try address("control_port"))
        stdin = try ZMQSocket(context: context, type: ZMQ_ROUTER, address: try address("stdin_port"))
        iopub = try ZMQSocket(context: context, type: ZMQ_PUB, address: try address("iopub_port"))
        heartbeat = try ZMQSocket(context: context, type: ZMQ_REP, address: try address("hb_port"))
        let console = Console(write: { _ in }, writeError: { _ in })
        session = Session(console: console)
        interpreter = Interpreter(session: session)
        console.write = { [weak self] in self?.stream("stdout", $0) }
        console.writeError = { [weak self] in self?.stream("stderr", $0) }
        console.display = { [weak self] in self?.display($0) }
        console.progressDisplay = { [weak self] in self?.progress($0) }
    }

    /// The display `train` updates in place, this cell's (nil until it first shows).
    private var progressID: String?

    /// Shows `line` in the cell's progress display: made at the first line, updated after.
    func progress(_ line: String) {
        let first = progressID == nil
        if first { progressID = UUID().uuidString }
        publish(KernelMessage(type: first ? "display_data" : "update_display_data",
                              content: ["data": ["text/plain": line], "metadata": [String: Any](), "transient": ["display_id": progressID!]],
                              parent: current, session: id))
    }

    /// Serves until a shutdown request.
    public func run() -> Never {
        Signals.install(interactive: true)
        let hb = heartbeat, parent = getppid()
        // The heartbeat echoes; and a kernel whose front end died (its parent gone) ends too.
        Thread.detachNewThread {
            while true {
                if hb.poll(1000), let m = hb.receive() { hb.send(m) }
                if getppid() != parent { exit(0) }
            }
        }
        Thread.detachNewThread { [self] in
            while true { if control.poll(1000), let frames = control.receive() { handle(frames, on: control) } }
        }
        publish(KernelMessage(type: "status", content: ["execution_state": "starting"], parent: nil, session: id))
        while true {
            if shell.poll(200), let frames = shell.receive() { handle(frames, on: shell) }
        }
    }

    private func handle(_ frames: [Data], on socket: ZMQSocket) {
        guard let m = KernelMessage(frames: frames, signer: signer) else {
            FileHandle.standardError.write(Data("mlpsh kernel: dropped a message with a bad signature or a malformed frame\n".utf8))
            return
        }
        let isControl = socket === control
        if !isControl { current = m }
        publish(KernelMessage(type: "status", content: ["execution_state": "busy"], parent: m, session: id))
        defer { publish(KernelMessage(type: "status", content: ["execution_state": "idle"], parent: m, session: id)) }
        func reply(_ type: String, _ content: [String: Any]) {
            socket.send(KernelMessage(type: type, content: content, parent: m, session: id).frames(signer: signer))
        }
        switch m.type {
        case "kernel_info_request": reply("kernel_info_reply", kernelInfo)
        case "execute_request": reply("execute_reply", execute(m))
        case "is_complete_request": reply("is_complete_reply", isComplete(m.content["code"] as? String ?? ""))
        case "complete_request": reply("complete_reply", complete(m.content["code"] as? String ?? "", cursor: m.content["cursor_pos"] as? Int))
        case "inspect_request": reply("inspect_reply", inspect(m.content["code"] as? String ?? "", cursor: m.content["cursor_pos"] as? Int))
        case "history_request": reply("history_reply", ["status": "ok", "history": [Any]()])
        case "comm_info_request": reply("comm_info_reply", ["status": "ok", "comms": [String: Any]()])
        case "interrupt_request":
            kill(getpid(), SIGINT)
            reply("interrupt_reply", ["status": "ok"])
        case "shutdown_request":
            let restart = m.content["restart"] as? Bool ?? false
            reply("shutdown_reply", ["status": "ok", "restart": restart])
            publish(KernelMessage(type: "status", content: ["execution_state": "idle"], parent: m, session: id))
            usleep(100_000)
            exit(0)
        default:
            FileHandle.standardError.write(Data("mlpsh kernel: no handler for \(m.type)\n".utf8))
        }
    }

    var kernelInfo: [String: Any] {
        ["status": "ok", "protocol_version": "5.3", "implementation": "mlpsh", "implementation_version": mlpshVersion,
         "language_info": ["name": "mlpsh", "version": mlpshVersion, "mimetype": "text/x-mlpsh", "file_extension": ".mlp",
                           "pygments_lexer": "text"],
         "banner": "mlpsh \(mlpshVersion): train neural networks from commands. 'help' lists them.", "help_links": [Any]()]
    }

    func publish(_ m: KernelMessage) {
        iopubLock.lock()
        defer { iopubLock.unlock() }
        iopub.send(m.frames(signer: signer, identities: [Data("kernel.\(id).\(m.type)".utf8)]))
    }

    func stream(_ name: String, _ text: String) {
        publish(KernelMessage(type: "stream", content: ["name": name, "text": text], parent: current, session: id))
    }

    func display(_ data: [String: Any]) {
        publish(KernelMessage(type: "display_data", content: ["data": data, "metadata": [String: Any](), "transient": [String: Any]()],
                              parent: current, session: id))
    }

    /// Runs a cell as the prompt would run its lines; an error ends the cell and names its line.
    private func execute(_ m: KernelMessage) -> [String: Any] {
        let code = m.content["code"] as? String ?? ""
        let silent = m.content["silent"] as? Bool ?? false
        if !silent { executionCount += 1 }
        progressID = nil
        publish(KernelMessage(type: "execute_input", content: ["code": code, "execution_count": executionCount], parent: m, session: id))
        _ = Signals.takeInterrupt()
        do {
            try interpreter.run(source: code, file: "In[\(executionCount)]")
            return ["status": "ok", "execution_count": executionCount, "user_expressions": [String: Any](), "payload": [Any]()]
        } catch {
            let text = (error as? ShellError)?.description ?? "\(error)"
            let content: [String: Any] = ["ename": "MLPSHError", "evalue": text, "traceback": [text]]
            publish(KernelMessage(type: "error", content: content, parent: m, session: id))
            return content.merging(["status": "error", "execution_count": executionCount]) { a, _ in a }
        }
    }

    /// Whether a cell's `model` block (and the blocks in it) is closed by its `end`.
    func isComplete(_ code: String) -> [String: Any] {
        var depth = 0
        for line in code.split(separator: "\n") {
            let word = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) ?? ""
            if word.hasPrefix("#") { continue }
            if word == "model" && depth == 0 { depth = 1 } else if depth > 0 && (word == "residual" || word == "concat") { depth += 1 } else if word == "end" && depth > 0 { depth -= 1 }
        }
        return depth > 0 ? ["status": "incomplete", "indent": "  "] : ["status": "complete"]
    }

    /// The word at the cursor and where it starts.
    private func word(in code: String, cursor: Int?) -> (before: String, word: String, start: Int, end: Int) {
        let scalars = Array(code.unicodeScalars)
        let end = min(max(cursor ?? scalars.count, 0), scalars.count)
        let lineStart = scalars[..<end].lastIndex(of: "\n").map { $0 + 1 } ?? 0
        var start = end
        while start > lineStart && !" \t;".unicodeScalars.contains(scalars[start - 1]) { start -= 1 }
        func text(_ r: Range<Int>) -> String { String(String.UnicodeScalarView(scalars[r])) }
        return (text(lineStart..<start), text(start..<end), start, end)
    }

    func complete(_ code: String, cursor: Int?) -> [String: Any] {
        let w = word(in: code, cursor: cursor)
        let matches = Completer(interpreter: interpreter).complete(line: w.before, word: w.word)
        return ["status": "ok", "matches": matches, "cursor_start": w.start, "cursor_end": w.end, "metadata": [String: Any]()]
    }

    /// `help NAME` for the name at the cursor.
    func inspect(_ code: String, cursor: Int?) -> [String: Any] {
        var w = word(in: code, cursor: cursor)
        // The whole word, also its part after the cursor.
        let rest = code.unicodeScalars.dropFirst(w.end).prefix { !" \t;\n".unicodeScalars.contains($0) }
        w.word += String(String.UnicodeScalarView(rest))
        let name = w.word.split(separator: "=").first.map(String.init) ?? ""
        guard !name.isEmpty else { return ["status": "ok", "found": false, "data": [String: Any](), "metadata": [String: Any]()] }
        var text = ""
        let console = session.console, (write, writeError) = (console.write, console.writeError)
        console.write = { text += $0 }
        console.writeError = { _ in }
        defer { (console.write, console.writeError) = (write, writeError) }
        let found = (try? interpreter.feed(line: "help \(name)", location: nil)) != nil && !text.isEmpty
        let data: [String: Any] = found ? ["text/plain": text] : [:]
        let reply: [String: Any] = ["status": "ok", "found": found, "data": data, "metadata": [String: Any]()]
        return reply
    }
}
