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
    @Option(help: "adam or lbfgs.") var optimizer = "adam"
    @Option(help: "Also measure this many passes (Ruder's multi-pass) after the single pass.") var passes = 1
    @Option(help: "Iterations per frame in each later pass.") var passIterations = 15
    @Flag(help: "Guide the frames with the clip's true flow (the measure of what flow errors cost).") var trueFlow = false
    @Option(help: "Learning rate of the frames after the first (default: impasto video's).") var frameLr: Double?

    func run() throws {
        guarded {
            let (w, h) = try parseSize(size)
            let context = try tunedContext(deviceOptions.selector, quiet: true)
            let pictures = try photoFiles().prefix(photos + 1).map { try ImageFile.read($0) }
            guard pictures.count >= 2 else { throw ValidationError("--images needs at least two photos") }
            let flow = try OpticalFlow(kernels: FlowKernels(context: context), width: w, height: h, settings: flowOptions.settings)
            print("flow end-point error (px), \(w)x\(h), textured and unoccluded pixels, on \(context.device.name)")
            print("kind         photo  EPE     textured  seconds")
            var worst = 0.0
            for kind in SyntheticMotion.Kind.allCases {
                for i in 0..<(pictures.count - 1) {
                    let pair = SyntheticMotion.pair(kind, photo: pictures[i], object: pictures[i + 1], width: w, height: h)
                    let start = Date()
                    let f = try flow.flow(from: pair.a, to: pair.b)
                    let seconds = Date().timeIntervalSince(start)
                    let textured = SyntheticMotion.textured(pair.a)
                    let mask = zip(textured, pair.valid).map { $0 && $1 }
                    let epe = SyntheticMotion.endPointError(f, pair.truth, mask: mask) ?? .nan
                    worst = max(worst, epe)
                    print(kind.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: " %5d  %.3f   %5.1f%%   %.2f", i, epe,
                                 100 * Double(mask.filter { $0 }.count) / Double(w * h), seconds))
                }
            }
            print(String(format: "worst mean EPE: %.3f px", worst))
            if flowOnly { return }
            try temporal(context: context, pictures: pictures, flowSize: (w, h))
        }
    }

    func photoFiles() throws -> [String] {
        try ImageFile.pictureNames(in: images, field: "images").map { URL(fileURLWithPath: images).appendingPathComponent($0).path }
    }

    func temporal(context: CLContext, pictures: [RGBImage], flowSize: (Int, Int)) throws {
        let (cw, ch) = try parseSize(clipSize)
        let vgg = try loadWeights(weights)
        let random = try WeightsSpec(parsing: weights).isRandom
        let run = Stylization(context: context, weights: vgg, keepsWarm: true)
        let style = try photoFiles().first { $0.contains("starry") }.map { try ImageFile.read($0) } ?? pictures[1]
        let clip = SyntheticMotion.clip(photo: pictures[0], object: pictures[1], width: cw, height: ch, count: clipFrames)
        var settings = TemporalSettings()
        settings.weight = temporalWeight
        settings.frames = try temporalFrames.split(separator: ",").map {
            guard let k = Int($0), k >= 1 else { throw ValidationError("--temporal-frames: '\($0)' is not a whole number 1 or more") }
            return k
        }
        settings.flow = flowOptions.settings
        func base(_ frame: RGBImage, _ size: (Int, Int), _ n: Int) -> StylizeRequest {
            var r = StylizeRequest(content: frame, styles: [style], sizes: [(size.0, size.1)], iterations: [n])
            if random { r.balance = [.content, .style] }
            if optimizer == "lbfgs" { r.optimizer = .lbfgs(history: 100) }
            return r
        }
        print("\ntemporal error (8-bit levels, mean |warped previous - current| over pixels the true flow reaches), \(cw)x\(ch), \(clipFrames) frames, weights \(run.weightsOrigin)")
        let inputError = SyntheticMotion.temporalError(clip.frames, clip: clip)
        var start = Date()
        // Independent: every frame from its content, the same iterations, the first frame's loss weights.
        let independentVideo = try VideoStylization(stylization: run, width: cw, height: ch, settings: settings, frameIterations: iterations)
        var independent: [RGBImage] = []
        let observer = VideoStylization.WeightsObserver(independentVideo)
        for f in clip.frames {
            let (r, _) = try independentVideo.request(frame: 0, base: base(f, (cw, ch), iterations), stylized: [:])
            independent.append(try run.run(r, observers: [observer]).picture.quantized)
        }
        let independentSeconds = Date().timeIntervalSince(start)
        start = Date()
        let video = try VideoStylization(stylization: run, width: cw, height: ch, settings: settings, frameIterations: frameIterations)
        video.frameLearningRate = frameLr ?? VideoStylization.defaultFrameLearningRate(for: base(clip.frames[0], (cw, ch), iterations))
        let truth: UserFlows? = trueFlow ? { i, j in
            guard j == i - 1 else { return nil }
            let b = clip.backward[i - 1]
            return (b, FlowField(width: b.width, height: b.height, values: b.values.map { -$0 }))
        } : nil
        /// The clip through the frame loop `impasto video` runs, in memory.
        func stylized(_ video: VideoStylization, passes: Int = 1) throws -> [RGBImage] {
            let sink = MemoryFrameSink()
            let plan = VideoStylization.Plan(base: { base($0, (cw, ch), iterations) }, key: "video-check", passes: passes,
                                             passIterations: passIterations, frameCount: clipFrames, userFlows: truth)
            _ = try video.run(plan, source: MemoryFrames(clip.frames), sink: sink)
            return sink.ordered
        }
        let temporal = try stylized(video)
        let temporalSeconds = Date().timeIntervalSince(start)
        let e0 = SyntheticMotion.temporalError(independent, clip: clip), e1 = SyntheticMotion.temporalError(temporal, clip: clip)
        print(String(format: "the input clip itself:            %.3f", inputError))
        print(String(format: "independent per-frame (%d it):    %.3f  (%.1f s)", iterations, e0, independentSeconds))
        print(String(format: "temporal loss (%d + %d it, w %g): %.3f  (%.1f s)", iterations, frameIterations, Double(temporalWeight), e1, temporalSeconds))
        print(String(format: "ratio independent / temporal:     %.2f", e0 / max(e1, 1e-9)))
        if passes > 1 {
            start = Date()
            let again = try VideoStylization(stylization: run, width: cw, height: ch, settings: settings, frameIterations: frameIterations)
            again.frameLearningRate = video.frameLearningRate
            let multi = try stylized(again, passes: passes)
            let e2 = SyntheticMotion.temporalError(multi, clip: clip)
            print(String(format: "%d passes (+%d it per frame each): %.3f  (%.1f s), ratio %.2f", passes, passIterations, e2,
                         Date().timeIntervalSince(start), e0 / max(e2, 1e-9)))
        }

        // Seconds per frame at the flow size: the flows of one frame, and its stylization.
        let (w, h) = flowSize
        let big = SyntheticMotion.clip(photo: pictures[0], object: pictures[1], width: w, height: h, count: 5)
        let timing = try VideoStylization(stylization: run, width: w, height: h, settings: settings, frameIterations: timingIterations)
        timing.frameLearningRate = video.frameLearningRate
        var stylized: [Int: RGBImage] = [:]
        print("\nseconds per frame at \(w)x\(h) (\(settings.frames.count) earlier frames, \(timingIterations) iterations per frame), on \(context.device.name)")
        for i in 0..<big.frames.count {
            try timing.remember(frame: i, content: big.frames[i])
            let t0 = Date()
            let (r, _) = try timing.request(frame: i, base: base(big.frames[i], (w, h), timingIterations), stylized: stylized)
            let t1 = Date()
            let result = try run.run(r, observers: [VideoStylization.WeightsObserver(timing)])
            stylized[i] = result.picture.quantized
            let t2 = Date()
            if i == 0 { continue }
            print(String(format: "frame %d: flow, consistency and warps %.2f s; stylization %.2f s (%.3f s per iteration, %.2f s set-up)", i,
                         t1.timeIntervalSince(t0), t2.timeIntervalSince(t1), result.iterating / Double(max(result.iterations, 1)), result.setUp))
        }
    }
}
