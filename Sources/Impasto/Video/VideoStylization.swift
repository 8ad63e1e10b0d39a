import Foundation

/// Stylizes the frames of a video in order (Ruder et al. 2016): the first like a picture;
/// each next one starts from the stylized frame before, warped by the optical flow, at the
/// output size with `frameIterations`, and carries the temporal loss towards the earlier
/// stylized frames (`TemporalGuide`). The loss weights a random-weights run balances are
/// fixed by the first frame, so they do not change from frame to frame.
public final class VideoStylization {
    public let stylization: Stylization
    public let guide: TemporalGuide
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
    public var balancedWeights: (content: Float, style: Float, tv: Float)?

    public init(stylization: Stylization, width: Int, height: Int, settings: TemporalSettings, frameIterations: Int) throws {
        self.stylization = stylization
        guide = try TemporalGuide(context: stylization.context, width: width, height: height, settings: settings)
        self.frameIterations = frameIterations
    }

    /// Frame `index`'s request: `base` (this frame's content, the first frame's schedule) as it
    /// is for the first frame; for the others the output size only, `frameIterations`, the
    /// warped frame before as the start and the temporal target. `stylized` holds the earlier
    /// stylized frames (as written: 8-bit), `remember` must have seen this content frame.
    public func request(frame index: Int, base: StylizeRequest, stylized: [Int: RGBImage],
                        userFlows: TemporalGuide.FlowProvider? = nil) throws -> (StylizeRequest, TemporalGuide.Guide?) {
        var r = base
        if let b = balancedWeights, r.balances { (r.contentWeight, r.styleWeight) = (b.content, b.style) }
        guard index > 0 else { return (r, nil) }
        let g = try guide.guide(for: index, stylized: stylized, userFlows: userFlows)
        r.sizes = [base.outputSize]
        r.iterations = [frameIterations]
        if let frameLearningRate { r.lr = frameLearningRate }
        r.start = .picture(g.start)
        r.temporal = g.target
        return (r, g)
    }

    /// Remembers a content frame (at the output size) for the flows of the frames after it.
    public func remember(frame index: Int, content: RGBImage) throws { try guide.add(frame: index, content: content) }

    /// Records the balanced weights of the first frame's run.
    public final class WeightsObserver: StylizeObserver {
        weak var video: VideoStylization?
        public init(_ video: VideoStylization) { self.video = video }
        public func observe(_ event: StylizeEvent) throws {
            if case .balanced(let c, let s, let t) = event, video?.balancedWeights == nil { video?.balancedWeights = (c, s, t) }
        }
    }

    /// Every frame in memory, each rounded to 8 bits (as a file holds it) before the next
    /// uses it. `base(frame)` gives each frame's request (content: that frame at the output size).
    public func stylizeAll(count: Int, frame: (Int) throws -> RGBImage, base: (RGBImage) throws -> StylizeRequest,
                           userFlows: TemporalGuide.FlowProvider? = nil) throws -> [RGBImage] {
        var all: [RGBImage] = [], recent: [Int: RGBImage] = [:]
        let keep = (guide.settings.frames.max() ?? 1)
        let observer = WeightsObserver(self)
        for i in 0..<count {
            let b = try base(try frame(i))
            let content = b.content.resized(width: b.outputSize.width, height: b.outputSize.height)
            try remember(frame: i, content: content)
            let (request, _) = try self.request(frame: i, base: b, stylized: recent, userFlows: userFlows)
            let result = try stylization.run(request, observers: [observer])
            recent[i] = result.picture.quantized
            all.append(recent[i]!)
            for old in recent.keys where old < i - keep { recent[old] = nil }
        }
        return all
    }
}

extension RGBImage {
    /// The picture as an 8-bit file holds it.
    public var quantized: RGBImage {
        let b = bytes
        return RGBImage(width: width, height: height, pixels: b.map { Float($0) / 255 })
    }
}
