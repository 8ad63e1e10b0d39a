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

    /// Style targets blended from pictures of this size (weights normalised to sum to 1).
    func captureStyles(_ styles: [(RGBImage, Float)]) throws
    /// Content targets from a picture of this size; X starts there.
    func setContent(_ picture: RGBImage) throws
    func setMask(_ mask: RGBImage?) throws
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
    /// Style targets blended from several pictures: the Gram targets are Σ wᵢ·gram(styleᵢ),
    /// weights normalised to sum to 1. Each picture is resized to `scale` × this model's size
    /// (neural-style's -style_scale); Gram matrices do not depend on the image size, so a
    /// scaled style is measured by a second model of that size (tiled if it must be, within
    /// `memoryLimit`), built from `weights`. (Models keep no host copy of the weights: on a CPU
    /// device that would hold them twice.)
    package func setStyles(_ styles: [(RGBImage, Float)], scale: Double = 1, weights: VGGWeights? = nil, memoryLimit: Int? = nil) throws {
        let total = styles.reduce(Float(0)) { $0 + $1.1 }
        guard !styles.isEmpty, total > 0, styles.allSatisfy({ $0.1 >= 0 && $0.1.isFinite }) else {
            throw StyleTransferError("style blend weights must be 0 or more and not all 0")
        }
        let w = max(VGG19.minimumSide, Int((Double(width) * scale).rounded()))
        let h = max(VGG19.minimumSide, Int((Double(height) * scale).rounded()))
        let pictures = styles.map { ($0.0.resized(width: w, height: h), $0.1) }
        if w == width && h == height {
            try captureStyles(pictures)
            return
        }
        guard let weights else { preconditionFailure("a style scale other than 1 needs the weights") }
        let limit = memoryLimit ?? Objectives.defaultLimit(context.device)
        let capture = try Objectives.make(context: context, weights: weights, width: w, height: h, config: config,
                                         memoryLimit: max(limit - context.liveBytes, 0))
        try capture.captureStyles(pictures)
        for (mine, theirs) in zip(styleOps, capture.styleOps) {
            try mine.targetGram.copy(from: theirs.targetGram)
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
                                    config: LossConfig, masked: Bool = false) throws -> Reservation<Objective> {
        try context.reserve { try WholeImageObjective(context: context, weights: weights, width: width, height: height, config: config, masked: masked) }
    }

    package static func reserveTiled(context: CLContext, weights: VGGWeights, plan: TilePlan, config: LossConfig,
                                    masked: Bool = false) throws -> Reservation<Objective> {
        try context.reserve { try TiledObjective(context: context, weights: weights, plan: plan, config: config, masked: masked) }
    }

    /// Device memory of a whole-image model (nothing is allocated).
    package static func measureWhole(context: CLContext, weights: VGGWeights, width: Int, height: Int,
                                    config: LossConfig, masked: Bool = false) throws -> DeviceMemory {
        try reserveWhole(context: context, weights: weights, width: width, height: height, config: config, masked: masked).memory
    }

    package static func measureTiled(context: CLContext, weights: VGGWeights, plan: TilePlan, config: LossConfig,
                                    masked: Bool = false) throws -> DeviceMemory {
        try reserveTiled(context: context, weights: weights, plan: plan, config: config, masked: masked).memory
    }

    /// The whole image if it fits `limit` bytes and the device's largest allocation, else the
    /// tiling with the fewest pixels to run per iteration that fits.
    package static func choose(context: CLContext, weights: VGGWeights, width: Int, height: Int, config: LossConfig,
                              masked: Bool = false, memoryLimit limit: Int) throws -> Choice {
        let maxAlloc = Int(context.device.maxAllocBytes)
        let fits = { (m: DeviceMemory) in m.total <= limit && m.largest <= maxAlloc }
        // The whole image's reservation is let go before any tiling is built.
        let whole: DeviceMemory
        do {
            let reserved = try reserveWhole(context: context, weights: weights, width: width, height: height, config: config, masked: masked)
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
        let low = try measureTiled(context: context, weights: weights, plan: smallest, config: config, masked: masked)
        let lowArea = Double(smallest.cropWidth * smallest.cropHeight), wholeArea = Double(width * height)
        let perPixel = max(0, Double(whole.total - low.total) / max(wholeArea - lowArea, 1))
        for p in plans {
            let guess = Double(low.total) + perPixel * (Double(p.cropWidth * p.cropHeight) - lowArea)
            if guess > Double(limit) * 1.05 { continue }
            let m = try reserveTiled(context: context, weights: weights, plan: p, config: config, masked: masked)
            if fits(m.memory) { return Choice(tiles: p, reserved: m) }
        }
        throw StyleTransferError("\(width)x\(height) does not fit in \(mebibytes(limit)) of device memory even in \(smallest.tiles.count) tiles of \(smallest.cropWidth)x\(smallest.cropHeight) (they need \(low)); raise the memory limit or lower the size")
    }

    /// The objective `choose` picks, allocated.
    package static func make(context: CLContext, weights: VGGWeights, width: Int, height: Int, config: LossConfig,
                            masked: Bool = false, memoryLimit: Int) throws -> Objective {
        try build(choose(context: context, weights: weights, width: width, height: height, config: config,
                         masked: masked, memoryLimit: memoryLimit))
    }

    /// The objective a `choice` holds, its buffers allocated: the model `choose` built and
    /// measured, not a second one.
    package static func build(_ choice: Choice) throws -> Objective { try choice.reserved.allocate() }
}
