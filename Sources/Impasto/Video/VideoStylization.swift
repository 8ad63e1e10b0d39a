import Foundation

/// Stylizes the frames of a video in order (Ruder et al. 2016): the first like a picture;
/// each next one starts from the stylized frame before, warped by the optical flow, at the
/// output size with `frameIterations`, and carries the temporal loss towards the earlier
/// stylized frames (`TemporalGuide`). The loss weights a random-weights run balances are
/// fixed by the first frame, so they do not change from frame to frame.
public final class VideoStylization {
    public let stylization: Stylization
    package let guide: TemporalGuide
    public let frameIterations: Int
    /// The learning rate of the frames after the first (nil: the request's). With Adam, whose
    /// steps are about the rate whatever the gradient, a frame that starts from the warped
    /// finished frame before wants a smaller one (`impasto video`: a tenth).
    public var frameLearningRate: Double?

    /// `impasto video`'s learning rate after the first frame: a tenth of Adam's (measured on
    /// the synthetic clip: at the full rate Adam's steps keep shaking the frame), L-BFGS's own.
    public static func defaultFrameLearningRate(for request: StylizeRequest) -> Double? {
        request.optimizer == .adam ? (request.lr ?? 0.3) / 10 : nil
    }
    /// The first frame's balanced loss weights (random weights only), used for every frame.
    public var balancedWeights: LossWeights?

    public init(stylization: Stylization, width: Int, height: Int, settings: TemporalSettings, frameIterations: Int) throws {
        self.stylization = stylization
        guide = try TemporalGuide(context: stylization.context, width: width, height: height, settings: settings)
        self.frameIterations = frameIterations
    }

    /// Frame `index`'s request: `base` (this frame's content, the first frame's schedule) as it
    /// is for the first frame; for the others the output size only, `frameIterations`, the
    /// warped frame before as the start and the temporal target. `stylized` holds the earlier
    /// stylized frames (as written: 8-bit), `remember` must have seen this content frame.
    package func request(frame index: Int, base: StylizeRequest, stylized: [Int: RGBImage],
                        userFlows: UserFlows? = nil) throws -> (StylizeRequest, TemporalGuide.Guide?) {
        var r = base
        if let b = balancedWeights, r.balances { (r.weights, r.balance) = (b, []) }
        guard index > 0 else { return (r, nil) }
        let g = try guide.guide(for: index, stylized: stylized, userFlows: userFlows)
        r.sizes = [base.outputSize]
        r.iterations = [frameIterations]
        if let frameLearningRate { r.lr = frameLearningRate }
        r.start = .picture(g.start)
        r.temporal = g.target
        return (r, g)
    }

    /// A frame's request in a later pass (see `TemporalGuide.passGuide`): `content` and the
    /// neighbour's at the output size, `iterations` at that size.
    package func passRequest(base: StylizeRequest, content: RGBImage, neighbourContent: RGBImage, neighbour: RGBImage,
                            own: RGBImage, iterations: Int) throws -> StylizeRequest {
        var r = base
        if let b = balancedWeights, r.balances { (r.weights, r.balance) = (b, []) }
        let g = try guide.passGuide(current: content, neighbour: neighbourContent, neighbourStylized: neighbour, own: own)
        r.sizes = [base.outputSize]
        r.iterations = [iterations]
        if let frameLearningRate { r.lr = frameLearningRate }
        r.start = .picture(g.start)
        r.temporal = g.target
        return r
    }

    /// The frames of pass `pass` (from 2), in its order: backward over all but the last on even
    /// passes (each frame's neighbour the one after it), forward from the second on odd ones.
    public static func passOrder(_ pass: Int, frames n: Int) -> [(frame: Int, neighbour: Int)] {
        guard n > 1 else { return [] }
        return pass % 2 == 0 ? (0..<(n - 1)).reversed().map { ($0, $0 + 1) } : (1..<n).map { ($0, $0 - 1) }
    }

    /// Remembers a content frame (at the output size) for the flows of the frames after it.
    public func remember(frame index: Int, content: RGBImage) throws { try guide.add(frame: index, content: content) }

    /// Records the balanced weights of the first frame's run.
    public final class WeightsObserver: StylizeObserver {
        weak var video: VideoStylization?
        public init(_ video: VideoStylization) { self.video = video }
        public func observe(_ event: StylizeEvent) throws {
            if case .balanced(let w) = event, video?.balancedWeights == nil { video?.balancedWeights = w }
        }
    }

    /// What the loop tells its caller besides each frame's `StylizeEvent`s.
    public enum Event: Sendable {
        /// A resumed run goes on in `pass` after `done` frames of it.
        case resuming(pass: Int, done: Int)
        /// Frame `frame` (from 0) starts, in `pass` of `passes`, with `iterations`; `covered`:
        /// the share of it held to earlier frames (nil for the first frame).
        case frameStarted(frame: Int, pass: Int, passes: Int, iterations: Int, covered: Double?)
        /// Stopped in `frame` after `iterations`; its checkpoint (if the sink keeps one) resumes it.
        case interrupted(frame: Int, iterations: Int)
        /// Every pass is done: `frames` frames in `seconds`.
        case finished(frames: Int, seconds: Double)
    }

    /// What a finished or stopped run did.
    public struct Outcome: Sendable {
        public let frames: Int
        public let interrupted: Bool
        public let losses: LossTerms?
    }

    /// What one run of the loop is: its frames' requests and how far it goes.
    public struct Plan {
        /// Each frame's request (content: that frame, any size, and its index from 0; the
        /// first frame's schedule).
        public var base: (RGBImage, Int) throws -> StylizeRequest
        /// The key resumed state and checkpoints are tagged with (`VideoJob.key`).
        public var key: String
        public var passes = 1
        /// Iterations per frame in the passes after the first.
        public var passIterations: Int
        /// Frames at most.
        public var frameCount: Int?
        /// Checkpoint the frame under way every N iterations too (where the sink keeps checkpoints).
        public var checkpointEvery: Int?
        public var userFlows: UserFlows?
        public init(base: @escaping (RGBImage, Int) throws -> StylizeRequest, key: String, passes: Int = 1, passIterations: Int,
                    frameCount: Int? = nil, checkpointEvery: Int? = nil, userFlows: UserFlows? = nil) {
            (self.base, self.key, self.passes, self.passIterations, self.frameCount, self.checkpointEvery, self.userFlows) =
                (base, key, passes, passIterations, frameCount, checkpointEvery, userFlows)
        }
    }

    /// The one frame loop (`impasto video`, batch video jobs, the tests and
    /// `tools/video-check` alike): frames from `source` in order, each stylized with its
    /// temporal guide and written to `sink` before the next is read; then `passes − 1` more
    /// passes in alternating directions. Resumable at the frame: the sink's state says what is
    /// done, its checkpoints where a stopped frame was. Each frame is rounded to 8 bits (as a
    /// file holds it) before the next uses it.
    public func run(_ plan: Plan, source: FrameSource, sink: FrameSink, observers: [StylizeObserver] = [],
                    shouldStop: () -> Bool = { false }, events: (Event) -> Void = { _ in }) throws -> Outcome {
        var state = sink.state(key: plan.key)
        balancedWeights = balancedWeights ?? state.weights
        if state.done > 0 || state.pass > 1 { events(.resuming(pass: state.pass, done: state.done)) }
        let (w, h) = (guide.width, guide.height)
        var stylized: [Int: RGBImage] = [:]
        var losses: LossTerms?
        let start = Date()
        let weightsObserver = WeightsObserver(self)
        /// One frame's run into the sink; false: stopped.
        func stylize(_ request: StylizeRequest, frame: Int) throws -> Bool {
            var checkpoint: StylizeCheckpoint.Policy?
            if let url = sink.checkpoint(frame: frame) {
                let resume = FileManager.default.fileExists(atPath: url.path) ? try StylizeCheckpoint.read(from: url) : nil
                checkpoint = StylizeCheckpoint.Policy(tag: plan.key + " pass \(state.pass) frame \(frame)", every: plan.checkpointEvery, resume: resume,
                                                      save: { try $0.write(to: url) })
            }
            let result = try stylization.run(request, observers: [weightsObserver] + observers, shouldStop: shouldStop,
                                             checkpoints: checkpoint)
            if let l = result.losses, !l.total.isFinite {
                throw StyleTransferError("the run diverged in frame \(frame + 1): its loss is not a finite number (\(l.total)); nothing written")
            }
            if result.interrupted {
                events(.interrupted(frame: frame, iterations: result.iterations))
                return false
            }
            losses = result.losses
            stylized[frame] = result.picture.quantized
            try sink.write(stylized[frame]!, frame: frame)
            if let url = sink.checkpoint(frame: frame) { try? FileManager.default.removeItem(at: url) }
            state.weights = balancedWeights
            return true
        }
        var index = state.frames ?? 0
        if state.pass == 1 {
            index = 0
            var frame = try source.next()
            while let picture = frame, index < (plan.frameCount ?? Int.max) {
                let content = picture.resized(width: w, height: h)
                try remember(frame: index, content: content)
                if plan.passes > 1 { try sink.keepContent(content, frame: index) }
                if index < state.done {
                    stylized[index] = try sink.read(frame: index)
                } else {
                    let (r, g) = try request(frame: index, base: try plan.base(picture, index), stylized: stylized, userFlows: plan.userFlows)
                    events(.frameStarted(frame: index, pass: 1, passes: plan.passes, iterations: r.totalIterations, covered: g?.covered))
                    guard try stylize(r, frame: index) else { return Outcome(frames: index, interrupted: true, losses: losses) }
                    state.done = index + 1
                    try sink.save(state)
                }
                for old in stylized.keys where old < index - (guide.settings.frames.max() ?? 1) { stylized[old] = nil }
                index += 1
                frame = index < (plan.frameCount ?? Int.max) ? try source.next() : nil
            }
            if plan.passes > 1 {  // one pass: a rerun reads the frames back and may go on past them (frameCount)
                (state.frames, state.pass, state.done) = (index, 2, 0)
                try sink.save(state)
            }
        }
        // Later passes, in alternating directions, from the frames as written.
        let passFrames = index
        while plan.passes > 1 && state.pass <= plan.passes {
            for (n, (i, m)) in Self.passOrder(state.pass, frames: passFrames).enumerated() where n >= state.done {
                let content = try sink.content(frame: i)
                let r = try passRequest(base: try plan.base(content, i), content: content, neighbourContent: try sink.content(frame: m),
                                        neighbour: try sink.read(frame: m), own: try sink.read(frame: i), iterations: plan.passIterations)
                events(.frameStarted(frame: i, pass: state.pass, passes: plan.passes, iterations: r.totalIterations, covered: nil))
                guard try stylize(r, frame: i) else { return Outcome(frames: passFrames, interrupted: true, losses: losses) }
                state.done = n + 1
                try sink.save(state)
            }
            (state.pass, state.done) = (state.pass + 1, 0)
            try sink.save(state)
        }
        if plan.passes > 1 { sink.dropContent() }
        events(.finished(frames: index, seconds: Date().timeIntervalSince(start)))
        return Outcome(frames: index, interrupted: false, losses: losses)
    }
}

extension RGBImage {
    /// The picture as an 8-bit file holds it.
    public var quantized: RGBImage {
        let b = bytes
        return RGBImage(width: width, height: height, pixels: b.map { Float($0) / 255 })
    }
}
