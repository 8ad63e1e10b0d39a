import ArgumentParser
import Foundation
import Impasto

struct Stylize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Paint the content image in the style of the style image (Gatys et al., the d2l.ai recipe).",
        discussion: """
        Defaults reproduce the seed: 500x400, 500 Adam iterations at lr 0.3 (x0.8 every 200), \
        loss weights 1 / 1e4 / 10, starting from the content image. Without --content and --style, \
        --demo paints the program's own sample pictures.
        """)

    @OptionGroup var deviceOptions: DeviceOptions
    @OptionGroup var picture: PictureOptions
    @OptionGroup var options: StylizeOptions

    /// Every check of the options alone (no file read, no device): a usage error, exit 64.
    func validate() throws {
        try validateAsUsage { try picture.job(options).validate() }
    }

    func run() throws {
        guarded { try stylize() }
    }

    func stylize() throws {
        let job = try picture.job(options)
        let outputs = try job.guardFiles(names: optionNames)  // before any work or any file is written
        let quiet = options.quiet
        let progress = ProgressObserver(ProgressDisplay(total: 0, quiet: quiet))
        Interrupt.install()
        var request = try job.prepare(randomWeights: job.weights.isRandom)  // inputs read and checked before the device and the weights
        let context = try tunedContext(deviceOptions.selector, quiet: quiet)
        try request.loss.check(on: context.device)  // now, not after a weights download
        let (vgg, randomWeights) = try resolveWeights(job, progress: progress.display)
        if randomWeights && !job.weights.isRandom { request = try job.prepare(randomWeights: true) }  // the demo's fallback
        let run = Stylization(context: context, weights: vgg, releaseWeights: true)
        let checkpoint = try job.checkpointing()
        progress.display = ProgressDisplay(total: request.totalIterations, quiet: quiet)
        progress.announce(request, device: context.device, weights: run.weightsOrigin, checkpoint: checkpoint?.path)
        let result = try job.perform(request, on: run, outputs: outputs, checkpoint: checkpoint, observers: [progress],
                                     shouldStop: { Interrupt.requested != 0 }, names: optionNames)
        let display = progress.display
        if result.interrupted {
            display.message("interrupted after \(result.iterations) iterations: wrote \(job.output.path)")
            Foundation.exit(Interrupt.exitStatus)
        }
        display.message(String(format: "wrote %@ (%.2f s per iteration, %.1f s of set-up: models, targets%@)", job.output.path,
                               result.iterations > 0 ? result.iterating / Double(result.iterations) : 0, result.setUp,
                               randomWeights ? ", loss balancing" : ""))
        if randomWeights {
            display.message("note: this used random VGG19 weights, a demo only; for real results let impasto download the official weights (network needed once) or pass --weights vgg19-dcbb9e9d.pth")
        }
    }
}

/// The weights of a job and whether they are random. A demo falls back to random weights when
/// the official file cannot be had; a real run does not.
func resolveWeights(_ job: StylizeJob, progress: ProgressDisplay) throws -> (VGGWeights, Bool) {
    do {
        return (try job.weights.load(progress: downloadProgress(quiet: progress.quiet)), job.weights.isRandom)
    } catch {
        guard job.settings.demo, job.weights == .official else { throw error }
        progress.message("impasto: \(error)")
        progress.message("demo: using random VGG19 weights instead (results are only a rough imitation of the style)")
        return (try VGGWeights.random(seed: 1), true)
    }
}

/// The download's progress line on stderr (`stylize` and `weights fetch`).
func downloadProgress(quiet: Bool) -> (Int64, Int64?) -> Void {
    let start = Date()
    var lastDraw = Date.distantPast
    return { got, total in
        guard !quiet, Date().timeIntervalSince(lastDraw) > 0.2 || got == total else { return }
        lastDraw = Date()
        let mb = Double(got) / 1e6
        let speed = mb / max(Date().timeIntervalSince(start), 1e-3)
        let text: String
        if let total {
            let pct = Double(got) / Double(total) * 100
            let bar = String(repeating: "#", count: Int(pct / 4)) + String(repeating: ".", count: 25 - Int(pct / 4))
            text = String(format: "downloading VGG19 weights [%@] %3.0f%% %.0f/%.0f MB %.1f MB/s", bar, pct, mb, Double(total) / 1e6, speed)
        } else {
            text = String(format: "downloading VGG19 weights %.0f MB %.1f MB/s", mb, speed)
        }
        writeStderr((isatty(STDERR_FILENO) != 0 ? "\r\u{1B}[K" + text : text + "\n"))
        if got == total && isatty(STDERR_FILENO) != 0 { writeStderr("\n") }
    }
}
