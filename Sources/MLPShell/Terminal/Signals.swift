import Foundation
import MLPEngine
import Synchronization

/// SIGINT, SIGTERM and SIGHUP, taken as lua.c takes them: the handler only records the signal
/// (atomic stores, which are async-signal-safe), and the work acts on it between its steps:
/// training after the current batch, `bench` and `confusion` after the current step, a script
/// between statements, the prompt in its read loop. Nothing else runs in the handler.
///
/// At the prompt, Ctrl-C stops the running command (or clears the line being edited) and the
/// session goes on. SIGTERM, SIGHUP (the terminal went away) and a script's Ctrl-C end mlpsh:
/// the running command stops at its next step (a `save` under way is finished, so no temporary
/// file is left), the prompt's history is kept, and mlpsh ends by the same signal, so that its
/// parent sees how it ended. Should a command not reach its next step, the same signal again
/// (or a third Ctrl-C at the prompt) removes a half-written temporary file and ends mlpsh at once.
public enum Signals {
    /// Ctrl-C's at the prompt not yet acted on.
    fileprivate static let interrupts = Atomic<Int>(0)
    /// The signal that ends mlpsh (SIGTERM, SIGHUP, or a script's SIGINT); 0 until one comes.
    fileprivate static let ending = Atomic<Int32>(0)
    /// Whether SIGINT stops a command (the prompt) or ends mlpsh (a script).
    fileprivate static let interactive = Atomic<Bool>(false)
    /// A Ctrl-Z at the prompt not yet acted on.
    fileprivate static let suspends = Atomic<Bool>(false)
    /// A change of the terminal's size (SIGWINCH) at the prompt not yet acted on.
    fileprivate static let resizes = Atomic<Bool>(false)
    /// The thread that installed the handlers, which waits at the prompt and runs commands.
    fileprivate static let mainThread = Atomic<UInt>(0)

    /// Takes SIGINT, SIGTERM and SIGHUP from now on; `interactive` is true for the prompt.
    /// System calls they interrupt fail with EINTR (no SA_RESTART), so a blocking read returns
    /// to its loop, which looks at what came.
    public static func install(interactive: Bool) {
        // The atomics exist before a handler can touch them (a global's first use is not
        // async-signal-safe).
        mainThread.store(UInt(pthread_self()), ordering: .sequentiallyConsistent)
        Self.interactive.store(interactive, ordering: .sequentiallyConsistent)
        interrupts.store(0, ordering: .sequentiallyConsistent)
        ending.store(0, ordering: .sequentiallyConsistent)
        AtomicFile.prepareForSignals()
        for sig in [SIGINT, SIGTERM, SIGHUP] { setHandler(sig, caught: true) }
    }

    /// mlpsh's handler for `sig` (no SA_RESTART), or the default action.
    private static func setHandler(_ sig: Int32, caught: Bool) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = caught ? signalHandler : SIG_DFL
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(sig, &action, nil)
    }

    /// Catches SIGTSTP (Ctrl-Z) and SIGWINCH while `on`: the prompt, whose terminal is in
    /// readline's mode, must give it back before mlpsh stops (see `suspend`), and tell readline
    /// the terminal's new size. Otherwise Ctrl-Z stops mlpsh at once and a resize is ignored,
    /// as by default. Where SIGTSTP is ignored (no job control), it stays ignored.
    public static func catchPromptSignals(_ on: Bool) {
        catchSuspend(on)
        setHandler(SIGWINCH, caught: on)
    }

    private static func catchSuspend(_ on: Bool) {
        var current = sigaction()
        sigaction(SIGTSTP, nil, &current)
        if unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { return }
        setHandler(SIGTSTP, caught: on)
    }

    /// Takes a change of the terminal's size not yet acted on: true when there was one.
    public static func takeResize() -> Bool {
        resizes.exchange(false, ordering: .sequentiallyConsistent)
    }

    /// Takes a Ctrl-Z not yet acted on: true when there was one.
    public static func takeSuspend() -> Bool {
        suspends.exchange(false, ordering: .sequentiallyConsistent)
    }

    /// Stops mlpsh as Ctrl-Z does by default, and returns once it is continued (`fg`), with
    /// SIGTSTP caught again.
    public static func suspend() {
        catchSuspend(false)
        var set = sigset_t(), old = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTSTP)
        pthread_sigmask(SIG_UNBLOCK, &set, &old)
        raise(SIGTSTP)
        pthread_sigmask(SIG_SETMASK, &old, nil)
        catchSuspend(true)
    }

    /// Whether long work should stop at its next step: a Ctrl-C not yet acted on, or an ending.
    public static var stopRequested: Bool {
        interrupts.load(ordering: .relaxed) > 0 || ending.load(ordering: .relaxed) != 0
    }

    /// The signal ending mlpsh, if one came.
    public static var endingSignal: Int32? {
        let s = ending.load(ordering: .sequentiallyConsistent)
        return s == 0 ? nil : s
    }

    /// Takes the Ctrl-C's not yet acted on: true when there was one.
    public static func takeInterrupt() -> Bool {
        interrupts.exchange(0, ordering: .sequentiallyConsistent) > 0
    }

    /// Records `sig` as if it had been delivered (for tests, and for `raise` without a handler).
    public static func record(_ sig: Int32) { signalHandler(sig) }

    /// Ends the process by `sig`, as its default action does.
    public static func endProcess(with sig: Int32) -> Never {
        signal(sig, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, sig)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        raise(sig)
        _exit(128 + sig)
    }

    /// "SIGTERM", "SIGHUP", "SIGINT".
    public static func name(_ sig: Int32) -> String {
        switch sig {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(sig)"
        }
    }
}

/// The handler: atomic operations only, and on a repeated signal the async-signal-safe
/// unlink(2), signal(2) and raise(3).
///
/// A signal sent to the process goes to any thread that does not block it: a BLAS or worker
/// thread when the prompt holds the signals back outside its wait. It is passed on to the
/// main thread (pthread_kill), which takes it there, at once or in the prompt's wait, so that
/// the wait ends.
private func signalHandler(_ sig: Int32) {
    let main = Signals.mainThread.load(ordering: .sequentiallyConsistent)
    if main != 0 && UInt(pthread_self()) != main {
        pthread_kill(pthread_t(main), sig)
        return
    }
    if sig == SIGTSTP || sig == SIGWINCH {
        if sig == SIGTSTP {
            Signals.suspends.store(true, ordering: .sequentiallyConsistent)
        } else {
            Signals.resizes.store(true, ordering: .sequentiallyConsistent)
        }
        return
    }
    if sig == SIGINT && Signals.interactive.load(ordering: .relaxed) {
        let (pending, _) = Signals.interrupts.wrappingAdd(1, ordering: .sequentiallyConsistent)
        if pending >= 2 { endAtOnce(sig) }
        return
    }
    let (exchanged, _) = Signals.ending.compareExchange(expected: 0, desired: sig, ordering: .sequentiallyConsistent)
    if !exchanged { endAtOnce(sig) }
}

private func endAtOnce(_ sig: Int32) {
    AtomicFile.removeUnfinishedFile()
    signal(sig, SIG_DFL)
    raise(sig)
}
