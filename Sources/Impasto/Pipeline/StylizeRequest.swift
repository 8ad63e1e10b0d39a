import Foundation

/// Everything one stylization needs, typed, checked in one place (`validate`): the pictures,
/// how the run starts, the colour mode, the losses, the schedule over scales and the
/// optimiser. `Stylization.run` carries it out; the CLI only builds one from its options.
public struct StylizeRequest: Sendable {
    /// Where the optimisation starts.
    public enum Start: Sendable {
        case content
        /// Gaussian noise of standard deviation 0.001 in normalised units, from this seed.
        case noise(seed: UInt64)
        case style
        /// A picture (any size: resized to each scale).
        case picture(RGBImage)
    }

    /// Colour control (Gatys et al. 2017).
    public enum Colors: String, CaseIterable, Codable, Sendable {
        /// The style's colours, as the seed paints.
        case style
        /// Transfer on luminance only; the result gets the content's colours back.
        case luminance
        /// The style images' colours matched to the content's first.
        case histogram
    }

    public enum OptimizerChoice: Equatable, Sendable {
        /// The seed's: lr decayed by `lrDecayGamma` every `lrDecayEvery` steps.
        case adam
        /// neural-style's, with this many correction pairs.
        case lbfgs(history: Int)

        /// Device bytes the optimiser holds for an image of `pixels` values.
        public func deviceBytes(pixels: Int) -> Int {
            switch self {
            case .adam: return AdamOptimizer.bytes(pixels: pixels)
            case .lbfgs(let history): return LBFGSOptimizer.bytes(history: history, pixels: pixels)
            }
        }
    }

    public var content: RGBImage
    /// The style pictures and their blend weights (normalised; nil: equal).
    public var styles: [RGBImage]
    public var styleBlend: [Float]?
    /// The style pictures' size relative to each scale (neural-style's -style_scale).
    public var styleScale = 1.0
    /// White where the style applies, black where the content stays (any size).
    public var mask: RGBImage?
    /// A style per region: per style picture, the mask (any size; white where that style
    /// applies, soft edges blend) of its own region, or nil for a default style, painted where
    /// no mask is white. nil: no regions (the styles blend over `mask` or the whole picture).
    public var styleMasks: [RGBImage?]?
    public var start = Start.content
    public var colors = Colors.style
    public var loss = LossConfig()
    /// The loss weights; the terms in `balance` are chosen by the run instead, from their
    /// step-0 sizes (for random VGG19 weights, where the seed's balance paints a blur, and for
    /// the W2 style loss's weight, which the seed's 1e4 does not fit).
    public var weights = LossWeights.seed
    public var balance: LossWeights.Balance = []
    /// Coarse to fine: the image sizes, smallest first; the last is the output's.
    public var sizes: [(width: Int, height: Int)]
    /// Iterations at each size.
    public var iterations: [Int]
    public var optimizer = OptimizerChoice.adam
    /// nil: 0.3 for Adam, 1 for L-BFGS (whose step it scales; L-BFGS does not decay it).
    public var lr: Double?
    public var lrDecayEvery = 200
    public var lrDecayGamma = 0.8
    /// The result (of each scale) is the moving average of the iterates, not the last one
    /// (nil: the last).
    public var averaging: IterateAveraging?
    /// Video: the earlier frames this one is held close to (Ruder et al.'s temporal loss).
    public var temporal: TemporalTarget?
    /// Device memory to use at most (nil: `Objectives.defaultLimit`); larger pictures run in tiles.
    public var memoryLimit: Int?

    public init(content: RGBImage, styles: [RGBImage], sizes: [(width: Int, height: Int)], iterations: [Int]) {
        self.content = content
        self.styles = styles
        self.sizes = sizes
        self.iterations = iterations
    }

    /// Iterations per scale at most (8 scales of them still add up without overflow).
    public static let maxIterations = 100_000_000
    /// Style regions at most (each costs a Gram matrix per style layer and iteration).
    public static let maxRegions = 16

    public var outputSize: (width: Int, height: Int) { sizes.last ?? (0, 0) }
    /// Whether the run balances a loss weight (random weights or W2, and a weight left to choose).
    public var balances: Bool { !balance.isEmpty }
    public var totalIterations: Int { iterations.reduce(0, +) }

    /// The learning rate at step `k` of a scale (Adam's schedule; L-BFGS's fixed scale).
    public func rate(at k: Int) -> Double {
        switch optimizer {
        case .adam: return (lr ?? 0.3) * pow(lrDecayGamma, Double(k / lrDecayEvery))
        case .lbfgs: return lr ?? 1
        }
    }

    /// Every check that needs no device: sizes, counts, weights, blend, schedule. Errors name
    /// the field (`SettingError`).
    public func validate() throws {
        func fail(_ field: String?, _ text: String) -> SettingError { SettingError(field, text) }
        guard !styles.isEmpty else { throw fail("styles", "needs at least one style picture") }
        guard !sizes.isEmpty, sizes.count <= 8 else { throw fail("sizes", "must hold between 1 and 8 scales, not \(sizes.count)") }
        for s in sizes where s.width < VGG19.minimumSide || s.height < VGG19.minimumSide {
            throw fail("sizes", "holds \(s.width)x\(s.height), below VGG19's \(VGG19.minimumSide)x\(VGG19.minimumSide)")
        }
        for s in sizes where s.width > 65536 || s.height > 65536 { throw fail("sizes", "holds \(s.width)x\(s.height), larger than 65536 on a side") }
        guard iterations.count == sizes.count else { throw fail("iterations", "has \(iterations.count) counts for \(sizes.count) scales") }
        guard iterations.allSatisfy({ (0...Self.maxIterations).contains($0) }) else {
            throw fail("iterations", "must be between 0 and \(Self.maxIterations) at each scale")
        }
        if let blend = styleBlend {
            guard blend.count == styles.count else { throw fail("styleBlend", "has \(blend.count) weights for \(styles.count) style images") }
            guard blend.allSatisfy({ $0.isFinite && $0 >= 0 }), blend.contains(where: { $0 > 0 }) else {
                throw fail("styleBlend", "weights must be 0 or more and not all 0")
            }
        }
        if let masks = styleMasks {
            guard mask == nil else { throw fail("styleMasks", "cannot go with mask: give a mask per style, or one for them all") }
            guard masks.count == styles.count else { throw fail("styleMasks", "has \(masks.count) masks for \(styles.count) style images") }
            guard masks.contains(where: { $0 != nil }) else { throw fail("styleMasks", "holds no mask: leave it out for no regions") }
            for (i, m) in masks.enumerated() where m.map({ $0.width < 1 || $0.height < 1 }) == true {
                throw fail("styleMasks", "mask \(i + 1) has no pixels")
            }
            let regionOfStyle = StyleRegions.assign(masks), count = (regionOfStyle.max() ?? 0) + 1
            guard count <= Self.maxRegions else { throw fail("styleMasks", "makes \(count) regions, more than \(Self.maxRegions)") }
            let blend = styleBlend ?? Array(repeating: 1, count: styles.count)
            for r in 0..<count where !zip(regionOfStyle, blend).contains(where: { $0 == r && $1 > 0 }) {
                throw fail("styleBlend", "gives every style of region \(r + 1) a weight of 0")
            }
        }
        guard styleScale.isFinite, styleScale > 0, styleScale <= 16 else { throw fail("styleScale", "must be a number between 0 and 16") }
        for (name, v) in [("contentWeight", weights.content), ("styleWeight", weights.style), ("tvWeight", weights.tv)] {
            guard v.isFinite && v >= 0 else { throw fail(name, "must be a finite number, 0 or more") }
        }
        if case .decay(let d) = averaging, !(d >= 0 && d < 1) { throw fail("averageIterates", "must be auto or a decay from 0 up to (not including) 1") }
        if let lr { guard lr.isFinite, lr > 0 else { throw fail("lr", "must be a positive number") } }
        guard lrDecayEvery >= 1 else { throw fail("lrDecayEvery", "must be at least 1") }
        guard lrDecayGamma.isFinite, lrDecayGamma > 0 else { throw fail("lrDecayGamma", "must be a positive number") }
        if let t = temporal {
            guard t.picture.width == outputSize.width, t.picture.height == outputSize.height else {
                throw fail("temporal", "target is \(t.picture.width)x\(t.picture.height), the output \(outputSize.width)x\(outputSize.height)")
            }
            guard t.weight.isFinite, t.weight >= 0 else { throw fail("temporalWeight", "must be a finite number, 0 or more") }
        }
        if case .lbfgs(let history) = optimizer, !(1...1000).contains(history) {
            throw fail("lbfgsHistory", "must be between 1 and 1000")
        }
        if let memoryLimit, memoryLimit < StylizeSettings.minimumMemory {
            throw fail("maxMemory", "is below 16M, too little for any model (tiles need at least a few MiB each)")
        }
    }
}

/// Where each style is painted: the regions' masks (none: one region, the whole picture or
/// the request's single mask) and each style picture's region. Each masked style is a region
/// of its own; the styles without a mask blend into one more, the default region, whose mask
/// is what the others leave: 1 − min(1, Σ masks) at the output size.
package struct StyleRegions {
    package let masks: [RGBImage]
    /// Per style picture, the index of its region.
    package let regionOfStyle: [Int]

    /// The masked styles' regions in order, then the default region (if a style has no mask).
    static func assign(_ styleMasks: [RGBImage?]) -> [Int] {
        let own = styleMasks.filter { $0 != nil }.count
        var next = 0
        return styleMasks.map { m in
            guard m != nil else { return own }
            defer { next += 1 }
            return next
        }
    }
}

extension StylizeRequest {
    package var regions: StyleRegions {
        guard let styleMasks else { return StyleRegions(masks: mask.map { [$0] } ?? [], regionOfStyle: styles.map { _ in 0 }) }
        let own = styleMasks.compactMap { $0 }, regionOfStyle = StyleRegions.assign(styleMasks)
        guard styleMasks.contains(where: { $0 == nil }) else { return StyleRegions(masks: own, regionOfStyle: regionOfStyle) }
        let (w, h) = outputSize
        var covered = [Float](repeating: 0, count: w * h)
        for m in own {
            let small = ColorTransfer.luminance(m).resized(width: w, height: h)
            for p in 0..<(w * h) { covered[p] += small.pixels[3 * p] }
        }
        let rest = RGBImage(width: w, height: h, pixels: covered.flatMap { v -> [Float] in
            let left = max(0, 1 - min(1, v))
            return [left, left, left]
        })
        return StyleRegions(masks: own + [rest], regionOfStyle: regionOfStyle)
    }
}
