import Foundation
import Impasto

/// Progress on stderr: one line rewritten in place on a terminal, plain lines every few
/// iterations otherwise (logs, CI), nothing with --quiet.
struct ProgressDisplay {
    let total: Int
    let quiet: Bool
    let isTerminal = isatty(STDERR_FILENO) != 0
    private var lastDraw = Date.distantPast

    init(total: Int, quiet: Bool) {
        self.total = total
        self.quiet = quiet
    }

    mutating func update(iteration i: Int, losses l: LossTerms, elapsed: Double) {
        guard !quiet else { return }
        let done = i + 1
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let line = String(format: "iter %d/%d  content %.4g  style %.4g  tv %.4g  total %.4g  %.2f it/s  ETA %@",
                          done, total, l.content, l.style, l.tv, l.total, rate, Self.clock(eta))
        if isTerminal {
            // Redraw at most ten times a second, and always on the last iteration.
            guard Date().timeIntervalSince(lastDraw) > 0.1 || done == total else { return }
            lastDraw = Date()
            writeStderr("\r\u{1B}[K\(line)")
            if done == total { writeStderr("\n") }
        } else {
            let every = max(1, total / 20)
            if done % every == 0 || done == total || done == 1 { printError(line) }
        }
    }

    func message(_ text: String) {
        guard !quiet else { return }
        if isTerminal { writeStderr("\r\u{1B}[K") }
        printError(text)
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
