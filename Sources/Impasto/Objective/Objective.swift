import Foundation

/// The function a run minimises over X: `WholeImageObjective` when the image's plan fits the
/// device, otherwise `TiledObjective`. Both keep X on the device (`image`); optimisers move it.
package protocol Objective: AnyObject {
    var width: Int { get }
    var height: Int { get }
    var context: CLContext { get }
    var kernels: Kernels { get }
    var config: LossConfig { get }
    /// X, the normalised planar image (3×H×W), and ∂total/∂X after `evaluate`.
    var image: OptimizedImage { get }
    /// The style losses whose targets `setStyles` fills (a tiled objective's are its tile network's).
    var styleOps: [StyleLossOp] { get }
    /// Device bytes this objective holds.
    var deviceBytes: Int { get }

    /// Each region's style target blended from pictures of this size (`StyleSource.blend`).
    func captureStyles(_ styles: [StyleSource]) throws
    /// Content targets from a picture of this size; X starts there.
    func setContent(_ picture: RGBImage) throws
    /// One mask per style region the objective was built for (any size; white: the region's
    /// style applies), or none for the one target over the whole picture.
    func setMasks(_ masks: [RGBImage]) throws
    /// The loss weights (a new objective has `LossWeights.seed`).
    func setWeights(_ weights: LossWeights)
    /// Losses at the current X, and ∂total/∂X in `grad`.
    func evaluate() throws -> LossTerms
    /// `evaluate` enqueued, its losses read without blocking: the host waits for them only
    /// when it needs them.
    func startEvaluation() throws -> PendingLosses
}

extension Objective {
    package var pixelCount: Int { 3 * width * height }
    package var x: Buffer { image.x }
    package var grad: Buffer { image.grad }
    package func setImage(_ values: [Float]) throws { try image.set(values) }
    /// Puts a picture (already at this size) into X, normalised.
    package func upload(_ picture: RGBImage) throws { try image.upload(picture) }
    /// X as a picture: denormalised and clamped to [0, 1] (the seed's post-processing).
    package func picture() throws -> RGBImage { try image.picture() }
    /// Style targets blended from several pictures: each region's Gram targets (and W2's
    /// means) are Σ wᵢ·gram(styleᵢ) over its styles, weights normalised to sum to 1 in each region. Each
    /// picture is resized to `scale` × this model's size (neural-style's -style_scale); Gram
    /// matrices do not depend on the image size, so a scaled style is measured by a second,
    /// unmasked model of that size (tiled if it must be, within `memoryLimit`), built from
    /// `weights`, one region at a time. (Models keep no host copy of the weights: on a CPU
    /// device that would hold them twice.)
    package func setStyles(_ styles: [StyleSource], scale: Double = 1, weights: VGGWeights? = nil, memoryLimit: Int? = nil) throws {
        try StyleSource.check(styles, regions: styleOps.first.map { max($0.maskCount, 1) } ?? 1)
        let w = max(VGG19.minimumSide, Int((Double(width) * scale).rounded()))
        let h = max(VGG19.minimumSide, Int((Double(height) * scale).rounded()))
        let sized = styles.map { StyleSource(picture: $0.picture.resized(width: w, height: h), weight: $0.weight, region: $0.region) }
        if w == width && h == height {
            try captureStyles(sized)
            return
        }
        guard let weights else { preconditionFailure("a style scale other than 1 needs the weights") }
        let limit = memoryLimit ?? Objectives.defaultLimit(context.device)
        let capture = try Objectives.make(context: context, weights: weights, width: w, height: h, config: config,
                                         memoryLimit: max(limit - context.liveBytes, 0))
        for region in Set(sized.map(\.region)).sorted() {
            try capture.captureStyles(sized.filter { $0.region == region }.map { StyleSource(picture: $0.picture, weight: $0.weight, region: 0) })
            for (mine, theirs) in zip(styleOps, capture.styleOps) { try mine.copyTarget(region: region, from: theirs) }
        }
    }
}

/// One style picture of a run: the region it is painted in (0 without masks) and its weight
/// among that region's styles.
package struct StyleSource {
    package let picture: RGBImage
    package let weight: Float
    package let region: Int

    package init(picture: RGBImage, weight: Float = 1, region: Int = 0) {
        (self.picture, self.weight, self.region) = (picture, weight, region)
    }

    /// Every region of `regions` has a style and weights 0 or more, not all 0.
    static func check(_ styles: [StyleSource], regions: Int) throws {
        guard styles.allSatisfy({ $0.weight >= 0 && $0.weight.isFinite }) else {
            throw StyleTransferError("style blend weights must be 0 or more")
        }
        for r in 0..<regions where !styles.contains(where: { $0.region == r && $0.weight > 0 }) {
            throw StyleTransferError("style region \(r + 1) has no style with a weight above 0")
        }
        guard styles.allSatisfy({ (0..<regions).contains($0.region) }) else {
            throw StyleTransferError("a style names a region the model does not hold")
        }
    }

    /// Each region's target = Σ wᵢ·gram(styleᵢ) / Σ wᵢ over its styles, in the ops; `capture`
    /// leaves one picture's Gram matrices in the ops' `gramMatrix`.
    static func blend(_ styles: [StyleSource], into ops: [StyleLossOp], capture: (RGBImage) throws -> Void) throws {
        var totals: [Int: Float] = [:]
        for s in styles { totals[s.region, default: 0] += s.weight }
        var started = Set<Int>()
        for s in styles {
            try capture(s.picture)
            for op in ops { try op.setTarget(region: s.region, weight: s.weight / totals[s.region]!, adding: started.contains(s.region)) }
            started.insert(s.region)
        }
    }
}

/// Builds the objective for an image size within a device-memory limit: the whole image
/// when its model, built with its buffers reserved, fits; otherwise the cheapest tiling that
/// does. The model chosen is the one then allocated and run.
package enum Objectives {
    /// What a run may use unless told otherwise: 90% of a GPU's global memory (the rest is the
    /// driver's and other programs'). A CPU device's memory is the machine's RAM, shared with
    /// everything else (POCL offers half of it or more), so there at most 3 GiB: beyond about a
    /// megapixel of crop, bigger tiles gain little speed.
    package static func defaultLimit(_ device: Device) -> Int {
        let share = Int(Double(device.globalMemBytes) * 0.9)
        return device.isCPU ? min(share, 3 << 30) : share
    }

    package struct Choice {
        /// nil: the whole image at once.
        package let tiles: TilePlan?
        /// Device memory the model will allocate.
        package var memory: DeviceMemory { reserved.memory }
        /// The model, built with its buffers reserved: `build` allocates them.
        let reserved: Reservation<Objective>
    }

    /// A whole-image model with its buffers reserved, not allocated.
    package static func reserveWhole(context: CLContext, weights: VGGWeights, width: Int, height: Int,
                                    config: LossConfig, masks: Int = 0) throws -> Reservation<Objective> {
        try context.reserve { try WholeImageObjective(context: context, weights: weights, width: width, height: height, config: config, masks: masks) }
    }

    package static func reserveTiled(context: CLContext, weights: VGGWeights, plan: TilePlan, config: LossConfig,
                                    masks: Int = 0) throws -> Reservation<Objective> {
        try context.reserve { try TiledObjective(context: context, weights: weights, plan: plan, config: config, masks: masks) }
    }

    /// Device memory of a whole-image model (nothing is allocated).
    package static func measureWhole(context: CLContext, weights: VGGWeights, width: Int, height: Int,
                                    config: LossConfig, masks: Int = 0) throws -> DeviceMemory {
        try reserveWhole(context: context, weights: weights, width: width, height: height, config: config, masks: masks).memory
    }

    package static func measureTiled(context: CLContext, weights: VGGWeights, plan: TilePlan, config: LossConfig,
                                    masks: Int = 0) throws -> DeviceMemory {
        try reserveTiled(context: context, weights: weights, plan: plan, config: config, masks: masks).memory
    }

    /// The whole image if it fits `limit` bytes and the device's largest allocation, else the
    /// tiling with the fewest pixels to run per iteration that fits.
    package static func choose(context: CLContext, weights: VGGWeights, width: Int, height: Int, config: LossConfig,
                              masks: Int = 0, memoryLimit limit: Int) throws -> Choice {
        let maxAlloc = Int(context.device.maxAllocBytes)
        let fits = { (m: DeviceMemory) in m.total <= limit && m.largest <= maxAlloc }
        // The whole image's reservation is let go before any tiling is built.
        let whole: DeviceMemory
        do {
            let reserved = try reserveWhole(context: context, weights: weights, width: width, height: height, config: config, masks: masks)
            if fits(reserved.memory) { return Choice(tiles: nil, reserved: reserved) }
            whole = reserved.memory
        }
        guard !config.normalizeGradients else {
            throw SettingError("normalizeGradients", "cannot run in tiles, and \(width)x\(height) needs \(whole), more than the \(mebibytes(limit)) allowed: lower the size or raise the memory limit")
        }
        let last = (config.styleLayers + config.contentLayers).max() ?? 0
        let (halo, alignment) = TilePlan.network(upTo: last)
        var plans: [TilePlan] = []
        for columns in 1...64 {
            for rows in 1...64 where columns * rows > 1 {
                if let p = TilePlan(width: width, height: height, columns: columns, rows: rows, halo: halo, alignment: alignment) {
                    plans.append(p)
                }
            }
        }
        plans.sort { ($0.croppedPixels, $0.tiles.count) < ($1.croppedPixels, $1.tiles.count) }
        // Memory grows with the crop's area: a line through the whole image's measurement and
        // the smallest plan's skips plans that cannot fit before measuring them exactly.
        guard let smallest = plans.min(by: { $0.cropWidth * $0.cropHeight < $1.cropWidth * $1.cropHeight }) else {
            throw StyleTransferError("\(width)x\(height) needs \(whole), more than the \(mebibytes(limit)) allowed, and is too small to cut into tiles")
        }
        let low = try measureTiled(context: context, weights: weights, plan: smallest, config: config, masks: masks)
        let lowArea = Double(smallest.cropWidth * smallest.cropHeight), wholeArea = Double(width * height)
        let perPixel = max(0, Double(whole.total - low.total) / max(wholeArea - lowArea, 1))
        for p in plans {
            let guess = Double(low.total) + perPixel * (Double(p.cropWidth * p.cropHeight) - lowArea)
            if guess > Double(limit) * 1.05 { continue }
            let m = try reserveTiled(context: context, weights: weights, plan: p, config: config, masks: masks)
            if fits(m.memory) { return Choice(tiles: p, reserved: m) }
        }
        throw StyleTransferError("\(width)x\(height) does not fit in \(mebibytes(limit)) of device memory even in \(smallest.tiles.count) tiles of \(smallest.cropWidth)x\(smallest.cropHeight) (they need \(low)); raise the memory limit or lower the size")
    }

    /// The objective `choose` picks, allocated.
    package static func make(context: CLContext, weights: VGGWeights, width: Int, height: Int, config: LossConfig,
                            masks: Int = 0, memoryLimit: Int) throws -> Objective {
        try build(choose(context: context, weights: weights, width: width, height: height, config: config,
                         masks: masks, memoryLimit: memoryLimit))
    }

    /// The objective a `choice` holds, its buffers allocated: the model `choose` built and
    /// measured, not a second one.
    package static func build(_ choice: Choice) throws -> Objective { try choice.reserved.allocate() }
}
