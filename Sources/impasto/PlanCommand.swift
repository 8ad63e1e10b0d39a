import ArgumentParser
import Foundation
import Impasto

/// `impasto plan`: `stylize`'s options, and instead of the run what it will do: each scale's
/// size, tiling, device memory and convolution time, and the host memory.
struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a stylize run with these options will do, before any heavy work: scales, tiles, memory, time.",
        discussion: """
        Takes stylize's options. The models are the run's own, reserved and not allocated; the \
        time counts the convolutions by the autotune's timings of their shapes on this device \
        (shapes not timed yet are timed now). The official weights are not loaded: random ones \
        of the same shapes give the same plan. Nothing is written.
        """)

    @OptionGroup var deviceOptions: DeviceOptions
    @OptionGroup var picture: PictureOptions
    @OptionGroup var options: StylizeOptions
    @Flag(help: "The plan as JSON on stdout.") var json = false

    func validate() throws {
        try validateAsUsage { try picture.job(options).validate() }
    }

    func run() throws {
        guarded {
            let job = try picture.job(options)
            let request = try job.prepare(randomWeights: job.weights.isRandom)
            let context = try tunedContext(deviceOptions.selector, quiet: true)
            try request.loss.check(on: context.device)
            // Only the shapes matter: the official file's are VGG19's, which random weights have.
            let weights = job.weights == .official ? try VGGWeights.random(seed: 0)
                                                   : try job.weights.load(progress: downloadProgress(quiet: true))
            let plan = try Stylization(context: context, weights: weights).plan(request)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(plan), as: UTF8.self))
            } else {
                print(plan.text)
            }
        }
    }
}
