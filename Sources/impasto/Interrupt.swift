import Foundation

/// Ctrl-C during a run: the first one asks the loop to stop after the current iteration (so the
/// image so far is written); a second one ends the process at once.
enum Interrupt {
    nonisolated(unsafe) static var requested: sig_atomic_t = 0

    static func install() {
        signal(SIGINT) { _ in
            if Interrupt.requested != 0 { _exit(130) }
            Interrupt.requested = 1
        }
    }
}
