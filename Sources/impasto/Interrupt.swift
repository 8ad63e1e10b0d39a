import Foundation
import Impasto

/// Ctrl-C or SIGTERM during a run: the first asks the loop to stop after the current iteration
/// (so the image so far is written, then exit 130 or 143); a second ends the process at once,
/// removing the temporary file of a picture being written, if any.
enum Interrupt {
    /// The signal that asked to stop, 0 for none.
    nonisolated(unsafe) static var requested: sig_atomic_t = 0

    static func install() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { s in
                if Interrupt.requested != 0 {
                    PendingFile.removeFromSignalHandler()
                    _exit(128 + s)
                }
                Interrupt.requested = s
            }
        }
    }

    /// 128 + the signal, as a shell reports a process ended by it.
    static var exitStatus: Int32 { 128 + Int32(requested) }
}
