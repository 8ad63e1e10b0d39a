import Foundation

/// What a run reports as it goes; observers (the CLI's progress display, JSON log, progress
/// sheet and `--save-every` writer) turn the events into output.
public enum StylizeEvent {
    /// A scale's model is built: the device memory it takes (whole or tiled).
    case model(scale: Int, width: Int, height: Int, memory: DeviceMemory)
    /// A scale does not fit the memory limit whole: it runs in these tiles.
    case tiles(scale: Int, width: Int, height: Int, plan: TilePlan, memory: DeviceMemory)
    /// The loss weights the run balanced to (random weights, or W2 with no style weight given).
    case balanced(LossWeights)
    /// The run goes on from a checkpoint taken after this many iterations.
    case resumed(iteration: Int)
    /// The starting picture of the first scale (a snapshot at iteration 0).
    case started(Snapshot)
    /// One iteration done (`index` counts over all scales, from 0).
    case iteration(Iteration)

    public struct Iteration {
        public let index, scale, width, height: Int
        public let losses: LossTerms
        public let rate: Double
        /// Seconds since the run began.
        public let elapsed: Double
        /// The picture now, finished (colours, output size); made only if asked for.
        public let snapshot: Snapshot
        /// Whether this is the last iteration the run will do.
        public let isLast: Bool
    }

    /// The current picture as the run would write it, computed on demand.
    public struct Snapshot {
        let make: () throws -> RGBImage
        public func picture() throws -> RGBImage { try make() }
    }
}

public protocol StylizeObserver: AnyObject {
    func observe(_ event: StylizeEvent) throws
}

/// The result of a run: the finished picture at the output size.
public struct StylizeResult: Sendable {
    public let picture: RGBImage
    public let iterations: Int
    /// The last iteration's losses (nil: no iteration ran).
    public let losses: LossTerms?
    /// Stopped early by `shouldStop`.
    public let interrupted: Bool
    /// Seconds in the iteration loops, and in everything else (models, targets, balancing).
    public let iterating, setUp: Double
}

/// Runs `StylizeRequest`s on one device with one set of weights: coarse to fine over the
/// request's sizes (each scale starts from the last one's result, with Adam's moments carried
/// over), tiled where a scale does not fit, loss weights balanced for random weights, colours
/// finished as asked. Events go to the observers; `shouldStop` is asked after every iteration.
public final class Stylization {
    public let context: CLContext
    /// Where the weights came from (`VGGWeights.origin`), kept past their release.
    public let weightsOrigin: String
    /// Dropped after the last model of a run is built when `releaseWeights` (a CPU device's
    /// buffers are host memory too: the weights would be held twice).
    private var weights: VGGWeights?
    var heldWeights: VGGWeights? { weights }
    let releaseWeights: Bool
    /// Many runs in one process (`impasto batch`): the last objective built, reused by a run
    /// that asks for the same one (size, losses, mask, memory), and the style targets by
    /// (style pictures, blend, size, style scale, losses), so one style over many photos is
    /// measured once. Reused state gives the same bits as fresh state.
    public let keepsWarm: Bool
    private var warm: (key: ObjectiveKey, choice: Objectives.Choice, objective: Objective)?
    /// Per style op, per region: the target's values (`StyleLossOp.targetValues`).
    private var styleTargets: [StyleTargetKey: [[[[Float]]]]] = [:]
    private var styleTargetOrder: [StyleTargetKey] = []
    /// Style targets kept at most (each a few MB: C×C per style layer).
    static let styleTargetCapacity = 16

    struct ObjectiveKey: Hashable {
        let width, height: Int
        let config: LossConfig
        let masks: Int
        let memoryLimit: Int
    }

    struct StyleTargetKey: Hashable {
        let pictures: String  // SHA-256 of the style pictures' pixels, the blend and their regions
        let width, height: Int
        let styleScale: Double
        let config: LossConfig
    }

    public init(context: CLContext, weights: VGGWeights, releaseWeights: Bool = false, keepsWarm: Bool = false) {
        self.context = context
        self.weights = weights
        weightsOrigin = weights.origin
        self.releaseWeights = releaseWeights
        self.keepsWarm = keepsWarm
    }

    public func run(_ request: StylizeRequest, observers: [StylizeObserver] = [], shouldStop: () -> Bool = { false },
                    checkpoints: StylizeCheckpoint.Policy? = nil) throws -> StylizeResult {
        try request.validate()
        let resume = checkpoints?.resume
        if let resume, let checkpoints { try resume.check(request, tag: checkpoints.tag) }
        try request.loss.check(on: context.device)
        guard weights != nil else { throw StyleTransferError("this Stylization's weights were released after its run") }
        var vgg: VGGWeights! = weights  // the local reference, dropped with the stored one
        func emit(_ e: StylizeEvent) throws { for o in observers { try o.observe(e) } }
        let (w, h) = request.outputSize
        let memoryLimit = min(request.memoryLimit ?? Objectives.defaultLimit(context.device), Int(context.device.globalMemBytes))
        let config = request.loss

        // Colour control: what the network sees, and what gets written.
        let originalContent = request.content.resized(width: w, height: h)
        var contentPicture = originalContent
        var styleImages = request.styles
        switch request.colors {
        case .luminance:
            styleImages = styleImages.map { ColorTransfer.matchedLuminance($0, to: originalContent) }
            contentPicture = ColorTransfer.luminance(originalContent)
        case .histogram:
            styleImages = styleImages.map { ColorTransfer.matchHistogram($0, to: originalContent) }
        case .style: break
        }
        let finish = { (p: RGBImage) -> RGBImage in
            let full = p.resized(width: w, height: h)
            return request.colors == .luminance ? ColorTransfer.combine(luminanceOf: full, colorsOf: originalContent) : full
        }
        let blend = request.styleBlend ?? Array(repeating: 1, count: styleImages.count)
        let regions = request.regions
        let styles = zip(styleImages.indices, blend).map { i, weight in
            StyleSource(picture: styleImages[i], weight: weight, region: regions.regionOfStyle[i])
        }
        let stylesHash = keepsWarm ? Self.hash(styleImages, blend, regions.regionOfStyle) : ""

        let start = Date()
        var iterating = 0.0
        var interrupted = false
        var previous: OptimizedImage?   // the last scale's X, on the device
        var picture: RGBImage?          // the last scale's result, on the host
        var balanced = resume?.weights
        if let resume { try emit(.resumed(iteration: resume.iteration)) }
        var carried: OptimizerState?
        var i = resume?.iteration ?? 0
        var lastLosses: LossTerms?
        let total = request.totalIterations
        for (scale, (sw, sh)) in request.sizes.enumerated() {
            if let resume, scale < resume.scale { continue }  // done before the checkpoint
            let resumed = resume.flatMap { $0.scale == scale ? $0 : nil }
            // The objective at this scale (tiled if it must be): targets, loss weights, start.
            let budget = try ScaleBudget(request, scale: scale, memoryLimit: memoryLimit, afterPrevious: previous != nil)
            let key = ObjectiveKey(width: sw, height: sh, config: config, masks: regions.masks.count, memoryLimit: budget.model)
            if warm?.key != key { warm = nil }  // its memory is free before the next one is measured
            let choice = try warm?.choice ?? Objectives.choose(context: context, weights: vgg, width: sw, height: sh, config: config,
                                                               masks: key.masks, memoryLimit: key.memoryLimit)
            if let plan = choice.tiles { try emit(.tiles(scale: scale, width: sw, height: sh, plan: plan, memory: choice.memory)) }
            let model = try warm?.objective ?? Objectives.build(choice)
            try emit(.model(scale: scale, width: sw, height: sh, memory: choice.memory))
            if keepsWarm { warm = (key, choice, model) }
            let content = contentPicture.resized(width: sw, height: sh)
            let targetKey = StyleTargetKey(pictures: stylesHash, width: sw, height: sh, styleScale: request.styleScale, config: config)
            if keepsWarm, let targets = styleTargets[targetKey] {
                for (op, values) in zip(model.styleOps, targets) { try op.setTargetValues(values) }
            } else {
                try model.setStyles(styles, scale: request.styleScale, weights: vgg, memoryLimit: memoryLimit)
                if keepsWarm { try remember(model.styleOps.map { try $0.targetValues() }, for: targetKey) }
            }
            if scale == request.sizes.count - 1 && releaseWeights { weights = nil; vgg = nil }
            try model.setMasks(regions.masks)
            try model.setContent(content)
            if balanced == nil {
                balanced = try lossWeights(model, request: request, content: content, style: styleImages[0])
                if request.balances { try emit(.balanced(balanced!)) }
            }
            model.setWeights(balanced!)
            if let resumed {
                try model.setImage(resumed.x)
            } else if let previous {
                try model.image.upload(resizedFrom: previous)
            } else {
                switch request.start {
                case .content: break
                case .noise(let seed):
                    var rng = SplitMix64(seed: seed)
                    try model.setImage((0..<(3 * sw * sh)).map { _ in Float(rng.normal() * 0.001) })
                case .style:
                    try model.upload(styleImages[0].resized(width: sw, height: sh))
                case .picture(let p):
                    let first = p.resized(width: sw, height: sh)
                    try model.upload(request.colors == .luminance ? ColorTransfer.luminance(first) : first)
                }
                try emit(.started(StylizeEvent.Snapshot { finish(try model.picture()) }))
            }
            previous = nil
            // Video: the temporal loss on top (per pixel, whole image or tiled alike).
            let objective: Objective = try request.temporal.map { t in
                var target = t.resized(width: sw, height: sh)
                if request.colors == .luminance { target.picture = ColorTransfer.luminance(target.picture) }  // X is luminance
                return try TemporalObjective(base: model, target: target)
            } ?? model
            let optimizer: Optimizer
            switch request.optimizer {
            case .adam: optimizer = try AdamOptimizer(objective: objective)
            case .lbfgs(let history): optimizer = try LBFGSOptimizer(objective: objective, history: history)
            }
            if let resumed { try optimizer.restore(resumed.optimizer) } else if let state = carried { try optimizer.resume(state) }
            carried = nil
            // --average-iterates: the scale's result is the running mean of its iterates.
            let average = try request.averaging.map {
                try IterateAverage(kernels: model.kernels, pixels: 3 * sw * sh, decay: $0.decay(iterations: request.iterations[scale]))
            }
            if let average, let saved = resumed?.average { try average.restore(mean: saved.mean, steps: saved.steps) }
            /// The scale's result so far: the average once it has an iterate, else X.
            func result() throws -> RGBImage {
                if let average, average.steps > 0 { return try model.image.picture(of: average.mean) }
                return try model.picture()
            }

            // The loop. Each iteration is reported by `report`: at once for L-BFGS, one
            // evaluation later for a pipelined optimiser (see `PipelinedOptimizer`).
            let loopStart = Date()
            /// Reports an iteration (event, checkpoint); true when the run stops after it.
            func report(step k: Int, losses: PendingLosses, rate: Double) throws -> Bool {
                let terms = try losses.wait()
                guard terms.total.isFinite else {
                    throw StyleTransferError("the loss became \(terms.total) at iteration \(i); try a smaller learning rate")
                }
                lastLosses = terms
                let stop = shouldStop()
                try emit(.iteration(StylizeEvent.Iteration(
                    index: i, scale: scale, width: sw, height: sh, losses: terms, rate: rate,
                    elapsed: Date().timeIntervalSince(start), snapshot: StylizeEvent.Snapshot { finish(try result()) },
                    isLast: stop || i + 1 == total)))
                i += 1
                if let policy = checkpoints, stop || policy.every.map({ i % $0 == 0 }) == true {
                    try policy.save(StylizeCheckpoint(tag: policy.tag, scale: scale, iteration: i, step: k + 1, weights: balanced!,
                                                      width: sw, height: sh, x: try model.x.read(), optimizer: try optimizer.snapshot(),
                                                      average: try average.map { StylizeCheckpoint.Average(mean: try $0.mean.read(), steps: $0.steps) }))
                }
                return stop
            }
            var unreported: (step: Int, losses: PendingLosses, rate: Double)?
            for k in (resumed?.step ?? 0)..<request.iterations[scale] {
                let rate = request.rate(at: k)
                if let pipelined = optimizer as? PipelinedOptimizer {
                    let losses = try pipelined.evaluate()
                    if let last = unreported {
                        unreported = nil
                        if try report(step: last.step, losses: last.losses, rate: last.rate) { interrupted = true; break }
                    }
                    try pipelined.move(rate: rate)
                    try average?.update(model.x)
                    unreported = (k, losses, rate)
                } else {
                    let (terms, used) = try optimizer.step(rate: rate)
                    try average?.update(model.x)
                    if try report(step: k, losses: .ready(terms), rate: used) { interrupted = true; break }
                }
            }
            if let last = unreported, try report(step: last.step, losses: last.losses, rate: last.rate) { interrupted = true }
            iterating += Date().timeIntervalSince(loopStart)
            if interrupted || scale + 1 == request.sizes.count {
                picture = try result()
                break
            }
            if let average, average.steps > 0 { try model.x.copy(from: average.mean) }  // the next scale starts from the result
            previous = model.image
            carried = optimizer.carried()
        }
        return StylizeResult(picture: finish(picture!), iterations: i, losses: lastLosses, interrupted: interrupted,
                             iterating: iterating, setUp: Date().timeIntervalSince(start) - iterating)
    }

    private func remember(_ targets: [[[[Float]]]], for key: StyleTargetKey) {
        if styleTargetOrder.count == Self.styleTargetCapacity { styleTargets[styleTargetOrder.removeFirst()] = nil }
        styleTargets[key] = targets
        styleTargetOrder.append(key)
    }

    /// SHA-256 of pictures' sizes and pixels, of blend weights and of each picture's region.
    static func hash(_ pictures: [RGBImage], _ blend: [Float], _ regions: [Int]) -> String {
        var h = SHA256()
        for p in pictures {
            let size = [Int64(p.width), Int64(p.height)]
            size.withUnsafeBytes { h.update($0) }
            p.pixels.withUnsafeBytes { h.update($0) }
        }
        blend.withUnsafeBytes { h.update($0) }
        regions.map(Int64.init).withUnsafeBytes { h.update($0) }
        return h.finalize()
    }

    /// What a scale's model may take of the memory limit, after what the optimiser (and the
    /// iterates' average) will hold and what the last scale leaves on the device until this
    /// one starts from it (its image, and Adam's moments carried over): one rule for the run
    /// and its plan.
    struct ScaleBudget {
        let optimizer, held, model: Int

        init(_ request: StylizeRequest, scale: Int, memoryLimit: Int, afterPrevious: Bool) throws {
            let (w, h) = request.sizes[scale], pixels = 3 * w * h
            optimizer = request.optimizer.deviceBytes(pixels: pixels) + (request.averaging == nil ? 0 : IterateAverage.bytes(pixels: pixels))
            if case .lbfgs = request.optimizer, memoryLimit <= optimizer {
                throw SettingError("lbfgsHistory", "needs \(mebibytes(optimizer)) at \(w)x\(h), more than the \(mebibytes(memoryLimit)) of device memory allowed: lower it or the size")
            }
            var held = request.temporal == nil ? 0 : TemporalObjective.bytes(pixels: w * h)
            if afterPrevious {
                let (pw, ph) = request.sizes[scale - 1]
                held += OptimizedImage.bytes(pixels: 3 * pw * ph)
                if case .adam = request.optimizer { held += AdamOptimizer.bytes(pixels: 3 * pw * ph) }
            }
            self.held = held
            model = memoryLimit - optimizer - held
        }
    }

    /// The request's weights, with the terms in `request.balance` (random VGG19 weights, where
    /// the seed's balance gives a featureless blur: design.md §4; W2's style weight) chosen from their step-0
    /// sizes: style worth 5× the TV term at the start, content worth as much as style at the
    /// far end. X is the content picture again afterwards.
    func lossWeights(_ model: Objective, request: StylizeRequest, content: RGBImage, style: RGBImage) throws -> LossWeights {
        var w = request.weights
        guard request.balances else { return w }
        model.setWeights(LossWeights(content: 1, style: 1, tv: 1))
        let atContent = try model.evaluate()  // X = content: raw style and TV
        try model.upload(style.resized(width: model.width, height: model.height))
        let atStyle = try model.evaluate()    // X = style: raw content distance
        try model.upload(content)
        if request.balance.contains(.style) {
            w.style = Float(5 * Double(w.tv) * Double(atContent.tv) / max(Double(atContent.style), 1e-30))
        }
        if request.balance.contains(.content) {
            w.content = request.loss.contentLayers.isEmpty ? 0 : Float(Double(w.style) * Double(atContent.style) / max(Double(atStyle.content), 1e-30))
        }
        return w
    }
}
