import ArgumentParser
import Foundation
import Impasto

struct Video: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stylize a video with temporal consistency (Ruder et al. 2016), optical flow on the device.",
        discussion: """
        Frames come from --frames DIR (numbered PNG or JPEG pictures) or --input FILE (any video ffmpeg \
        reads, decoded through a pipe); results go to --output-dir DIR (frame_000001.png, ...) and/or \
        --output FILE (encoded by ffmpeg, H.264 for .mp4, the input's audio kept). The first frame is \
        stylized like a picture; each next one starts from the stylized frame before, warped by the \
        optical flow, and a temporal loss holds it to the earlier stylized frames (--temporal-frames) \
        where the flow is reliable (forward-backward consistent, off motion boundaries). Options \
        after the video options are stylize's (style, size, weights, losses, optimiser...). A stopped \
        run (Ctrl-C, SIGTERM) keeps its finished frames and the current frame's checkpoint: the same \
        command resumes at that frame and gives the same frames as a run that never stopped.
        """)

    @OptionGroup var deviceOptions: DeviceOptions
    @Option(help: "A folder of numbered frames (PNG or JPEG), in the order of the numbers in their names.") var frames: String?
    @Option(help: "A video file (needs ffmpeg).") var input: String?
    @Option(help: "Where to write the stylized frames (frame_000001.png, ...).") var outputDir: String?
    @Option(help: "A video file to encode the stylized frames into (needs ffmpeg; .mp4: H.264).") var output: String?
    @Option(help: "Temporal loss weight (0: frames stylized from the warped frame before but not held to it).")
    var temporalWeight: Float = TemporalSettings.defaultWeight
    @Option(help: "Earlier frames each frame is held to, by distance, comma-separated (1: the frame before; 1,2,4: long-term consistency).")
    var temporalFrames = "1,2,4"
    @Option(help: "Iterations of the first frame (default: stylize's --iterations or its schedule).") var firstFrameIterations: Int?
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
    @OptionGroup var flowOptions: FlowOptions
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("stylize options (at least --style).", valueName: "stylize-options"))
    var stylizeOptions: [String] = []

    /// Stylize options a video sets itself, or that write files per run.
    static let refused = ["content", "output", "demo", "checkpoint", "save-every", "progress-image", "log"]

    func validate() throws {
        guard (frames == nil) != (input == nil) else { throw ValidationError("give --frames DIR or --input FILE, one of them") }
        guard outputDir != nil || output != nil else { throw ValidationError("give --output-dir DIR and/or --output FILE") }
        for name in Self.refused where stylizeOptions.contains(where: { $0 == "--\(name)" || $0.hasPrefix("--\(name)=") }) {
            throw ValidationError("--\(name) is not a video option (the frames are --frames or --input, the results --output-dir or --output)")
        }
        guard temporalWeight.isFinite, temporalWeight >= 0 else { throw ValidationError("--temporal-weight must be a finite number, 0 or more") }
        _ = try temporalDistances()
        for (name, v) in [("--first-frame-iterations", firstFrameIterations), ("--frame-iterations", frameIterations)] {
            if let v, !(0...StylizeRequest.maxIterations).contains(v) { throw ValidationError("\(name) must be between 0 and \(StylizeRequest.maxIterations)") }
        }
        if let frameLr, !(frameLr.isFinite && frameLr > 0) { throw ValidationError("--frame-lr must be a positive number") }
        guard (1...50).contains(passes) else { throw ValidationError("--passes must be between 1 and 50") }
        if let passIterations, !(1...StylizeRequest.maxIterations).contains(passIterations) {
            throw ValidationError("--pass-iterations must be between 1 and \(StylizeRequest.maxIterations)")
        }
        if let frameCount, frameCount < 1 { throw ValidationError("--frame-count must be at least 1") }
        if let frameRate { _ = try Self.checkedRate(frameRate) }
        if let output {  // a container ffmpeg would refuse only after every frame
            do { try FFmpeg.checkOutput(output) } catch { throw ValidationError(errorLine(error)) }
        }
        if let flowDir {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: flowDir, isDirectory: &isDir), isDir.boolValue else {
                throw ValidationError("--flow-dir \(flowDir): no such folder")
            }
        }
        try flowOptions.check()
        _ = try stylize(output: "/frame.png")  // stylize's own checks, as a usage error
    }

    func run() throws {
        guarded { try runVideo() }
    }

    func temporalDistances() throws -> [Int] {
        let ks = try temporalFrames.split(separator: ",", omittingEmptySubsequences: false).map { part -> Int in
            guard let k = Int(part.trimmingCharacters(in: .whitespaces)), (1...1000).contains(k) else {
                throw ValidationError("--temporal-frames: '\(part)' is not a whole number from 1 to 1000")
            }
            return k
        }
        guard ks.contains(1), Set(ks).count == ks.count else { throw ValidationError("--temporal-frames must include 1 and name each distance once") }
        return ks.sorted()
    }

    /// "24", "29.97" or "30000/1001".
    static func checkedRate(_ text: String) throws -> String {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { Double($0) }
        guard (1...2).contains(parts.count), parts.allSatisfy({ $0 != nil && $0! > 0 && $0! <= 1e9 && $0!.isFinite }) else {
            throw ValidationError("--frame-rate '\(text)' is not a positive number or a fraction such as 30000/1001")
        }
        let rate = parts.count == 2 ? parts[0]! / parts[1]! : parts[0]!
        guard (0.01...1000).contains(rate) else { throw ValidationError("--frame-rate \(text) is outside 0.01 to 1000 frames per second") }
        return text
    }

    /// The stylize command these options give for one frame's output (the content a stand-in:
    /// the frames are given to the run as pictures).
    func stylize(output: String, content standIn: String = "frame.png") throws -> Stylize {
        // NAME=VALUE: a path that starts with '-' is a value, not an option.
        do { return try Stylize.parse(stylizeOptions + ["--content=" + standIn, "--output=" + output]) } catch {
            throw ValidationError(errorLine(error))
        }
    }
}
