import ArgumentParser
import Foundation
import Impasto

/// `tools/video-check`'s measurements: flow end-point error on synthetic pairs with known
/// motion, the temporal error of stylized synthetic clips with and without the temporal loss,
/// and seconds per frame.
struct VideoCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "video-check",
        abstract: "Measure optical flow and temporal consistency on synthetic motion made from photos (tools/video-check).",
        shouldDisplay: false)

    @OptionGroup var deviceOptions: DeviceOptions
    @Option(help: "A folder of photos (JPEG or PNG) to make the synthetic motion from.") var images: String
    @Option(help: "Picture size for the flow measurements.") var size = "512x384"
    @Option(help: "Photos to use at most (sorted by name).") var photos = 4
    @OptionGroup var flowOptions: FlowOptions
    @Option(help: "Clip size for the temporal-error measurement.") var clipSize = "128x96"
    @Option(help: "Frames of the synthetic clip.") var clipFrames = 24
    @Option(help: "Iterations of the first frame (and of every frame when stylized independently).") var iterations = 100
    @Option(help: "Iterations of each later frame with the temporal loss.") var frameIterations = 40
    @Option(help: "Temporal loss weight.") var temporalWeight = TemporalSettings.defaultWeight
    @Option(help: "Earlier frames the temporal loss uses.") var temporalFrames = "1,2,4"
    @Option(help: "Iterations per frame for the seconds-per-frame figure at --size.") var timingIterations = 20
    @Option(help: "VGG19 weights (random:SEED or a file).") var weights = "random:1"
    @Flag(help: "Only the flow figures.") var flowOnly = false
    @Option(help: "adam or lbfgs.") var optimizer = StylizeSettings.OptimizerKind.adam
    @Option(help: "Also measure this many passes (Ruder's multi-pass) after the single pass.") var passes = 1
    @Option(help: "Iterations per frame in each later pass.") var passIterations = 15
    @Flag(help: "Guide the frames with the clip's true flow (the measure of what flow errors cost).") var trueFlow = false
    @Option(help: "Learning rate of the frames after the first (default: impasto video's).") var frameLr: Double?

    func run() throws {
        guarded {
            var check = Impasto.VideoCheck(images: images)
            (check.photos, check.clipFrames, check.flow, check.flowOnly) = (photos, clipFrames, flowOptions.settings, flowOnly)
            (check.size, check.clipSize) = (try StylizeSettings.Size(parsing: size), try StylizeSettings.Size(parsing: clipSize, field: "clipSize"))
            (check.iterations, check.frameIterations, check.timingIterations) = (iterations, frameIterations, timingIterations)
            check.temporalWeight = temporalWeight
            check.temporalFrames = try temporalFrames.split(separator: ",").map {
                guard let k = Int($0), k >= 1 else { throw ValidationError("--temporal-frames: '\($0)' is not a whole number 1 or more") }
                return k
            }
            (check.weights, check.optimizer) = (try WeightsSpec(parsing: weights), optimizer)
            (check.passes, check.passIterations, check.trueFlow, check.frameLr) = (passes, passIterations, trueFlow, frameLr)
            try check.run(context: try tunedContext(deviceOptions.selector, quiet: true)) { print($0) }
        }
    }
}
