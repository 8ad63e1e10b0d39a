import Foundation
import Impasto

/// The progress line on stderr, and the run's messages (tiles chosen, loss weights balanced).
final class ProgressObserver: StylizeObserver {
    var display: ProgressDisplay
    init(_ display: ProgressDisplay) { self.display = display }

    func observe(_ event: StylizeEvent) throws {
        switch event {
        case .tiles(_, let w, let h, let plan, let memory):
            let b = plan.borders
            display.message("\(w)x\(h): \(plan), \(memory) of device memory; tile borders at x "
                            + b.x.map(String.init).joined(separator: ",") + " and y " + b.y.map(String.init).joined(separator: ","))
        case .balanced(let c, let s, let t):
            display.message(String(format: "random weights: loss weights balanced to content %.3g, style %.3g, tv %.3g", c, s, t))
        case .started: break
        case .iteration(let it): display.update(iteration: it.index, losses: it.losses, elapsed: it.elapsed)
        }
    }
}

/// `--log`: one JSON line per iteration.
final class LogObserver: StylizeObserver {
    let file: LogFile
    let multiScale: Bool
    init(_ file: LogFile, multiScale: Bool) { self.file = file; self.multiScale = multiScale }

    func observe(_ event: StylizeEvent) throws {
        guard case .iteration(let it) = event else { return }
        let t = it.losses
        let scaleField = multiScale ? String(format: ",\"scale\":\"%dx%d\"", it.width, it.height) : ""
        try file.write(String(format: "{\"iter\":%d,\"content\":%.9g,\"style\":%.9g,\"tv\":%.9g,\"total\":%.9g,\"lr\":%.9g,\"elapsed\":%.6f%@}\n",
                              it.index, t.content, t.style, t.tv, t.total, it.rate, it.elapsed, scaleField))
    }
}

/// `--progress-image`: snapshots side by side with the loss curves, rewritten five times a run.
final class SheetObserver: StylizeObserver {
    var sheet: ProgressSheet
    let path: String, quality: Int, total: Int
    var every: Int { max(1, total / 5) }
    init(path: String, width: Int, height: Int, total: Int, quality: Int) {
        sheet = ProgressSheet(outputWidth: width, outputHeight: height)
        self.path = path
        self.total = total
        self.quality = quality
    }

    func observe(_ event: StylizeEvent) throws {
        switch event {
        case .started(let s): sheet.snapshot(try s.picture(), iteration: 0)
        case .iteration(let it):
            let done = it.index + 1
            sheet.record(it.losses)
            if done % every == 0 || done == total {
                sheet.snapshot(try it.snapshot.picture(), iteration: done)
                try ImageFile.write(sheet.render(), to: path, quality: quality)
            }
        default: break
        }
    }
}

/// `--save-every N`: the picture every N iterations as OUTPUT-NNNN (the last is the output itself).
final class SaveEveryObserver: StylizeObserver {
    let output: String, every: Int, total: Int, quality: Int
    var outputs: OutputGuard
    init(output: String, every: Int, total: Int, quality: Int, outputs: OutputGuard) {
        (self.output, self.every, self.total, self.quality, self.outputs) = (output, every, total, quality, outputs)
    }

    func observe(_ event: StylizeEvent) throws {
        guard case .iteration(let it) = event else { return }
        let done = it.index + 1
        guard done % every == 0, done < total else { return }
        try outputs.checkReplaceable(numbered(output, done), option: "--save-every")
        try ImageFile.write(try it.snapshot.picture(), to: numbered(output, done), quality: quality)
    }
}
