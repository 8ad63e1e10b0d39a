import ArgumentParser
import Foundation
import Impasto

/// A video job's own options: `video`'s, and a batch video job's (a line with "frames" or "input").
struct VideoOptions: ParsableArguments {
    @Option(help: "A folder of numbered frames (PNG or JPEG), in the order of the numbers in their names.") var frames: String?
    @Option(help: "A video file (needs ffmpeg).") var input: String?
    @Option(help: "Where to write the stylized frames (frame_000001.png, ...).") var outputDir: String?
    @Option(help: "A video file to encode the stylized frames into (needs ffmpeg; .mp4: H.264).") var output: String?
    @Option(help: "Temporal loss weight (0: frames stylized from the warped frame before but not held to it).")
    var temporalWeight: Float = TemporalSettings.defaultWeight
    @Option(help: "Earlier frames each frame is held to, by distance, comma-separated (1: the frame before; 1,2,4: long-term consistency).")
    var temporalFrames = "1,2,4"
    @Option(help: "Iterations of the first frame (default: --iterations or its schedule).") var firstFrameIterations: Int?
    @Option(help: "Iterations of each later frame, at the output size (default: half the first frame's last scale).")
    var frameIterations: Int?
    @Option(help: "Learning rate of the frames after the first (default: a tenth of --lr with Adam, whose full steps would shake a frame that starts finished; --lr with L-BFGS).")
    var frameLr: Double?
    @Option(help: "Passes over the video (Ruder's multi-pass): after the first, forward, pass, each one in the other direction redoes every frame from a blend of its last result and its neighbour's, held to the neighbour.")
    var passes = 1
    @Option(help: "Iterations of each frame in the passes after the first (default: half --frame-iterations).")
    var passIterations: Int?
    @Option(help: "A folder of your own flows: backward_I_J.flo (frame I to the earlier frame J, numbered from 1) and forward_J_I.flo; pairs without both files are computed.")
    var flowDir: String?
    @Option(help: "Stylize at most this many frames.") var frameCount: Int?
    @Option(help: "Frames per second of --output (default: the input video's, else 24).") var frameRate: String?
    @Option(help: "Also checkpoint the frame under way every N iterations (a stopped run always keeps its frame's checkpoint).")
    var checkpointEvery: Int?
    @OptionGroup var flowOptions: FlowOptions

    func job(_ options: StylizeOptions) throws -> VideoJob {
        guard (frames == nil) != (input == nil) else { throw ValidationError("give --frames DIR or --input FILE, one of them") }
        guard outputDir != nil || output != nil else { throw ValidationError("give --output-dir DIR and/or --output FILE") }
        try flowOptions.check()
        var settings = VideoSettings()
        settings.temporal.weight = temporalWeight
        settings.temporal.frames = try temporalFrames.split(separator: ",", omittingEmptySubsequences: false).map { part in
            guard let k = Int(part.trimmingCharacters(in: .whitespaces)) else {
                throw SettingError("temporalFrames", "has '\(part)', not a whole number from 1 to 1000")
            }
            return k
        }
        settings.temporal.flow = flowOptions.settings
        (settings.firstFrameIterations, settings.frameIterations, settings.frameLr) = (firstFrameIterations, frameIterations, frameLr)
        (settings.passes, settings.passIterations, settings.frameCount, settings.checkpointEvery) = (passes, passIterations, frameCount, checkpointEvery)
        let source: VideoJob.Source = frames.map { .frames($0) } ?? .file(input!)
        var job = VideoJob(source: source, outputDir: outputDir, output: output, settings: settings,
                           picture: try options.job(content: nil, output: PictureOutput(path: "frame.png")))
        (job.frameRate, job.flowDir) = (frameRate, flowDir)
        return job
    }
}

struct Video: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stylize a video with temporal consistency (Ruder et al. 2016), optical flow on the device.",
        discussion: """
        Frames come from --frames DIR (numbered PNG or JPEG pictures) or --input FILE (any video ffmpeg \
        reads, decoded through a pipe); results go to --output-dir DIR (frame_000001.png, ...) and/or \
        --output FILE (encoded by ffmpeg, H.264 for .mp4, the input's audio kept). The first frame is \
        stylized like a picture; each next one starts from the stylized frame before, warped by the \
        optical flow, and a temporal loss holds it to the earlier stylized frames (--temporal-frames) \
        where the flow is reliable (forward-backward consistent, off motion boundaries). The picture \
        options (style, size, weights, losses, optimiser...) are stylize's. A stopped run (Ctrl-C, \
        SIGTERM) keeps its finished frames and the current frame's checkpoint: the same command \
        resumes at that frame and gives the same frames as a run that never stopped.
        """)

    @OptionGroup var deviceOptions: DeviceOptions
    @OptionGroup var video: VideoOptions
    @OptionGroup var options: StylizeOptions

    func validate() throws {
        try validateAsUsage { try video.job(options).validate() }
    }

    func run() throws {
        guarded {
            Interrupt.install()  // before prepare: a signal while ffprobe runs ends it cleanly
            let job = try video.job(options)
            let stop = { Interrupt.requested != 0 }
            let prepared = try job.prepare(names: optionNames, shouldStop: stop)
            let quiet = options.quiet
            let progress = ProgressObserver(ProgressDisplay(total: 0, quiet: quiet))
            let context = try tunedContext(deviceOptions.selector, quiet: quiet)
            try job.picture.settings.lossConfig().check(on: context.device)
            let (vgg, randomWeights) = try resolveWeights(job.picture, progress: progress.display)
            let stylization = Stylization(context: context, weights: vgg, keepsWarm: true)
            let outcome = try job.perform(prepared, on: stylization, randomWeights: randomWeights, key: try job.key(), observers: [progress],
                                          shouldStop: stop, events: { progress.report($0, frameDir: job.frameDir) }, names: optionNames)
            if outcome.interrupted { Foundation.exit(Interrupt.exitStatus) }
            if let output = job.output { progress.display.message("video: wrote \(output)") }
        }
    }
}

extension ProgressObserver {
    /// A video's messages; each frame gets a fresh progress line.
    func report(_ event: VideoStylization.Event, frameDir: String) {
        switch event {
        case .resuming(let pass, let done):
            display.message("video: resuming " + (pass > 1 ? "pass \(pass) " : "") + "after \(done) finished frames in \(frameDir)")
        case .frameStarted(let frame, let pass, let passes, let iterations, let covered):
            display = ProgressDisplay(total: iterations, quiet: display.quiet)
            let coverage = covered.map { String(format: ", %.0f%% of it held to earlier frames", 100 * $0) } ?? ""
            display.message(pass > 1 ? "video: pass \(pass) of \(passes), frame \(frame + 1)" : "video: frame \(frame + 1)\(coverage)")
        case .interrupted(let frame, let iterations):
            display.message("video: interrupted in frame \(frame + 1) after \(iterations) iterations; the same command resumes there")
        case .finished(let frames, let seconds):
            display.message(String(format: "video: %d frames in %@ (%.1f s)", frames, frameDir, seconds))
        }
    }
}
