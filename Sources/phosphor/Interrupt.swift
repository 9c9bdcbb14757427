import Foundation

/// Ctrl-C during a generation: the first SIGINT asks the pipeline to stop after the current step (nothing is
/// written, exit 130); a second one ends the process at once.
enum Interrupt {
    nonisolated(unsafe) static var requested: sig_atomic_t = 0

    static func install() {
        // A parent may start us with SIGINT blocked (the mask is inherited, e.g. from a thread-pool thread).
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigprocmask(SIG_UNBLOCK, &set, nil)
        signal(SIGINT) { _ in
            if Interrupt.requested != 0 { _exit(130) }
            Interrupt.requested = 1
        }
    }

    static var isRequested: Bool { requested != 0 }
}

struct Interrupted: Error, CustomStringConvertible {
    var description: String { "interrupted: nothing written" }
}
