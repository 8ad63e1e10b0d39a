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

/// The progress line on stderr, and the run's messages (tiles chosen, loss weights balanced).
final class ProgressObserver: StylizeObserver {
    var display: ProgressDisplay
    init(_ display: ProgressDisplay) { self.display = display }

    /// The line that opens a run: its size and scales, device, iterations and weights.
    func announce(_ request: StylizeRequest, device: Device, weights: String, checkpoint: String?) {
        let (w, h) = request.outputSize, sizes = request.sizes
        let scaleText = sizes.count > 1 ? " in \(sizes.count) scales (" + sizes.map { "\($0.width)x\($0.height)" }.joined(separator: ", ") + ")" : ""
        display.message("stylizing \(w)x\(h)\(scaleText) on \(device.name), \(request.totalIterations) iterations, weights \(weights)")
        self.checkpoint = checkpoint
    }
    private var checkpoint: String?

    func observe(_ event: StylizeEvent) throws {
        switch event {
        case .tiles(_, let w, let h, let plan, let memory):
            let b = plan.borders
            display.message("\(w)x\(h): \(plan), \(memory) of device memory; tile borders at x "
                            + b.x.map(String.init).joined(separator: ",") + " and y " + b.y.map(String.init).joined(separator: ","))
        case .balanced(let w):
            display.message(String(format: "loss weights balanced to content %.3g, style %.3g, tv %.3g (from the step-0 losses: random weights, or the W2 style loss without --style-weight)", w.content, w.style, w.tv))
        case .resumed(let iteration): display.message("resuming from \(checkpoint ?? "a checkpoint") after \(iteration) iterations")
        case .started, .model: break
        case .iteration(let it): display.update(iteration: it.index, losses: it.losses, elapsed: it.elapsed)
        }
    }
}
