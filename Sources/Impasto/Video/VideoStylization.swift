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

    /// A frame's request in a later pass (see `TemporalGuide.passGuide`): `content` and the
    /// neighbour's at the output size, `iterations` at that size.
    public func passRequest(base: StylizeRequest, content: RGBImage, neighbourContent: RGBImage, neighbour: RGBImage,
                            own: RGBImage, iterations: Int) throws -> StylizeRequest {
        var r = base
        if let b = balancedWeights, r.balances { (r.contentWeight, r.styleWeight) = (b.content, b.style) }
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
            if case .balanced(let c, let s, let t) = event, video?.balancedWeights == nil { video?.balancedWeights = (c, s, t) }
        }
    }

    /// Every frame in memory, each rounded to 8 bits (as a file holds it) before the next
    /// uses it. `base(frame)` gives each frame's request (content: that frame at the output size).
    /// `passes` above 1: that many passes in alternating directions, `passIterations` each frame.
    public func stylizeAll(count: Int, frame: (Int) throws -> RGBImage, base: (RGBImage) throws -> StylizeRequest,
                           userFlows: TemporalGuide.FlowProvider? = nil, passes: Int = 1, passIterations: Int = 0) throws -> [RGBImage] {
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
        if passes < 2 { return all }
        for pass in 2...passes {
            for (i, m) in Self.passOrder(pass, frames: count) {
                let b = try base(try frame(i))
                let (w, h) = b.outputSize
                let request = try passRequest(base: b, content: b.content.resized(width: w, height: h),
                                              neighbourContent: try frame(m).resized(width: w, height: h), neighbour: all[m], own: all[i],
                                              iterations: passIterations)
                all[i] = try stylization.run(request).picture.quantized
            }
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
