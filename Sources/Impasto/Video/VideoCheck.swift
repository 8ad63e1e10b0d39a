import Foundation

/// `tools/video-check`'s measurements (`impasto video-check`): flow end-point error on
/// synthetic pairs with known motion, the temporal error of stylized synthetic clips with and
/// without the temporal loss (through the frame loop `impasto video` runs, over frames in
/// memory), and seconds per frame.
package struct VideoCheck {
    /// A folder of photos (JPEG or PNG) to make the synthetic motion from; at most `photos`.
    package var images: String
    package var photos = 4
    /// The flow measurements' size, and the temporal clip's.
    package var size = StylizeSettings.Size(width: 512, height: 384)
    package var clipSize = StylizeSettings.Size(width: 128, height: 96)
    package var clipFrames = 24
    package var flow = FlowSettings()
    /// Iterations of the first frame (and of every frame stylized independently), of each
    /// later frame, and of each frame of the seconds-per-frame figure.
    package var iterations = 100, frameIterations = 40, timingIterations = 20
    package var temporalWeight = TemporalSettings.defaultWeight
    package var temporalFrames = [1, 2, 4]
    package var weights = WeightsSpec.random(seed: 1)
    package var flowOnly = false
    package var optimizer = StylizeSettings.OptimizerKind.adam
    /// Also measure this many passes, with `passIterations` per frame in each later one.
    package var passes = 1, passIterations = 15
    /// Guide the frames with the clip's true flow (what flow errors cost).
    package var trueFlow = false
    package var frameLr: Double?

    package init(images: String) { self.images = images }

    /// Every measurement, each line of the tables to `report`.
    package func run(context: CLContext, report: (String) -> Void) throws {
        let (w, h) = (size.width, size.height)
        let pictures = try photoFiles().prefix(photos + 1).map { try ImageFile.read($0) }
        guard pictures.count >= 2 else { throw SettingError("images", "needs at least two photos") }
        let flows = try OpticalFlow(kernels: FlowKernels(context: context), width: w, height: h, settings: flow)
        report("flow end-point error (px), \(w)x\(h), textured and unoccluded pixels, on \(context.device.name)")
        report("kind         photo  EPE     textured  seconds")
        var worst = 0.0
        for kind in SyntheticMotion.Kind.allCases {
            for i in 0..<(pictures.count - 1) {
                let pair = SyntheticMotion.pair(kind, photo: pictures[i], object: pictures[i + 1], width: w, height: h)
                let start = Date()
                let f = try flows.flow(from: pair.a, to: pair.b)
                let seconds = Date().timeIntervalSince(start)
                let textured = SyntheticMotion.textured(pair.a)
                let mask = zip(textured, pair.valid).map { $0 && $1 }
                let epe = SyntheticMotion.endPointError(f, pair.truth, mask: mask) ?? .nan
                worst = max(worst, epe)
                report(kind.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: " %5d  %.3f   %5.1f%%   %.2f", i, epe,
                             100 * Double(mask.filter { $0 }.count) / Double(w * h), seconds))
            }
        }
        report(String(format: "worst mean EPE: %.3f px", worst))
        if flowOnly { return }
        try temporal(context: context, pictures: pictures, flowSize: (w, h), report: report)
    }

    func photoFiles() throws -> [String] {
        try ImageFile.pictureNames(in: images, field: "images").map { URL(fileURLWithPath: images).appendingPathComponent($0).path }
    }

    func temporal(context: CLContext, pictures: [RGBImage], flowSize: (Int, Int), report: (String) -> Void) throws {
        let (cw, ch) = (clipSize.width, clipSize.height)
        let vgg = try weights.load()
        let random = weights.isRandom
        let run = Stylization(context: context, weights: vgg, keepsWarm: true)
        let style = try photoFiles().first { $0.contains("starry") }.map { try ImageFile.read($0) } ?? pictures[1]
        let clip = SyntheticMotion.clip(photo: pictures[0], object: pictures[1], width: cw, height: ch, count: clipFrames)
        var settings = TemporalSettings()
        settings.weight = temporalWeight
        settings.frames = temporalFrames
        settings.flow = flow
        func base(_ frame: RGBImage, _ size: (Int, Int), _ n: Int) -> StylizeRequest {
            var r = StylizeRequest(content: frame, styles: [style], sizes: [(size.0, size.1)], iterations: [n])
            if random { r.balance = [.content, .style] }
            if optimizer == .lbfgs { r.optimizer = .lbfgs(history: 100) }
            return r
        }
        report("\ntemporal error (8-bit levels, mean |warped previous - current| over pixels the true flow reaches), \(cw)x\(ch), \(clipFrames) frames, weights \(run.weightsOrigin)")
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
            let plan = VideoStylization.Plan(base: { content, _ in base(content, (cw, ch), iterations) }, key: "video-check", passes: passes,
                                             passIterations: passIterations, frameCount: clipFrames, userFlows: truth)
            _ = try video.run(plan, source: MemoryFrames(clip.frames), sink: sink)
            return sink.ordered
        }
        let temporal = try stylized(video)
        let temporalSeconds = Date().timeIntervalSince(start)
        let e0 = SyntheticMotion.temporalError(independent, clip: clip), e1 = SyntheticMotion.temporalError(temporal, clip: clip)
        report(String(format: "the input clip itself:            %.3f", inputError))
        report(String(format: "independent per-frame (%d it):    %.3f  (%.1f s)", iterations, e0, independentSeconds))
        report(String(format: "temporal loss (%d + %d it, w %g): %.3f  (%.1f s)", iterations, frameIterations, Double(temporalWeight), e1, temporalSeconds))
        report(String(format: "ratio independent / temporal:     %.2f", e0 / max(e1, 1e-9)))
        if passes > 1 {
            start = Date()
            let again = try VideoStylization(stylization: run, width: cw, height: ch, settings: settings, frameIterations: frameIterations)
            again.frameLearningRate = video.frameLearningRate
            let multi = try stylized(again, passes: passes)
            let e2 = SyntheticMotion.temporalError(multi, clip: clip)
            report(String(format: "%d passes (+%d it per frame each): %.3f  (%.1f s), ratio %.2f", passes, passIterations, e2,
                         Date().timeIntervalSince(start), e0 / max(e2, 1e-9)))
        }

        // Seconds per frame at the flow size: the flows of one frame, and its stylization.
        let (w, h) = flowSize
        let big = SyntheticMotion.clip(photo: pictures[0], object: pictures[1], width: w, height: h, count: 5)
        let timing = try VideoStylization(stylization: run, width: w, height: h, settings: settings, frameIterations: timingIterations)
        timing.frameLearningRate = video.frameLearningRate
        var stylized: [Int: RGBImage] = [:]
        report("\nseconds per frame at \(w)x\(h) (\(settings.frames.count) earlier frames, \(timingIterations) iterations per frame), on \(context.device.name)")
        for i in 0..<big.frames.count {
            try timing.remember(frame: i, content: big.frames[i])
            let t0 = Date()
            let (r, _) = try timing.request(frame: i, base: base(big.frames[i], (w, h), timingIterations), stylized: stylized)
            let t1 = Date()
            let result = try run.run(r, observers: [VideoStylization.WeightsObserver(timing)])
            stylized[i] = result.picture.quantized
            let t2 = Date()
            if i == 0 { continue }
            report(String(format: "frame %d: flow, consistency and warps %.2f s; stylization %.2f s (%.3f s per iteration, %.2f s set-up)", i,
                         t1.timeIntervalSince(t0), t2.timeIntervalSince(t1), result.iterating / Double(max(result.iterations, 1)), result.setUp))
        }
    }
}
