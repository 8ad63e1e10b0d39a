import Foundation

/// What the stylize loop drives: a whole-image `StyleTransfer`, or a `TiledStyleTransfer`
/// when the image's plan does not fit the device. Both optimise X on the device.
public protocol Stylizer: AnyObject {
    var width: Int { get }
    var height: Int { get }
    var context: CLContext { get }
    var kernels: Kernels { get }
    var config: LossConfig { get }
    /// X, the normalised planar image (3×H×W), and ∂total/∂X after `evaluate`.
    var x: Buffer { get }
    var grad: Buffer { get }
    /// The style losses whose targets `setStyles` fills (a tiled model's are its tile network's).
    var styleOps: [StyleLossOp] { get }

    /// Style targets blended from pictures of this size (weights normalised to sum to 1).
    func captureStyles(_ styles: [(RGBImage, Float)]) throws
    /// Content targets from a picture of this size; X starts there, Adam is reset.
    func setContent(_ picture: RGBImage) throws
    func setMask(_ mask: RGBImage?) throws
    func setWeights(content: Float, style: Float, tv: Float)
    func setImage(_ image: [Float]) throws
    func upload(_ picture: RGBImage) throws
    func picture() throws -> RGBImage
    /// Losses at the current X, and ∂total/∂X in `grad`.
    func evaluate() throws -> LossTerms
    /// `evaluate`, then one Adam step.
    func step(lr: Float) throws -> LossTerms
    func adamState() throws -> AdamState
    /// Continues from another scale's Adam state (resized to this size).
    func restoreAdam(_ state: AdamState) throws
}

extension Stylizer {
    public var pixelCount: Int { 3 * width * height }

    /// Style targets blended from several pictures: the Gram targets are Σ wᵢ·gram(styleᵢ),
    /// weights normalised to sum to 1. Each picture is resized to `scale` × this model's size
    /// (neural-style's -style_scale); Gram matrices do not depend on the image size, so a
    /// scaled style is measured by a second model of that size (tiled if it must be, within
    /// `memoryLimit`), built from `weights`. (Models keep no host copy of the weights: on a CPU
    /// device that would hold them twice.)
    public func setStyles(_ styles: [(RGBImage, Float)], scale: Double = 1, weights: VGGWeights? = nil, memoryLimit: Int? = nil) throws {
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
        let limit = memoryLimit ?? Stylizers.defaultLimit(context.device)
        let capture = try Stylizers.make(context: context, weights: weights, width: w, height: h, config: config,
                                         memoryLimit: max(limit - context.liveBytes, 0))
        try capture.captureStyles(pictures)
        for (mine, theirs) in zip(styleOps, capture.styleOps) {
            try mine.targetGram.copy(from: theirs.targetGram)
        }
    }
}

/// Adam's moments and step count, read back so that the next (larger) scale of a
/// coarse-to-fine run continues with them, as crowsonkb/style-transfer-pytorch does.
public struct AdamState {
    public let width, height: Int
    public let m, v: [Float]
    public let steps: Int

    /// The moments resized bilinearly to another image size (v stays ≥ 0).
    public func resized(width w: Int, height h: Int) -> AdamState {
        if w == width && h == height { return self }
        return AdamState(width: w, height: h, m: Self.resize(m, width, height, w, h), v: Self.resize(v, width, height, w, h), steps: steps)
    }

    /// Bilinear resize of a 3-plane image, sampling at pixel centres.
    static func resize(_ a: [Float], _ w: Int, _ h: Int, _ nw: Int, _ nh: Int) -> [Float] {
        func taps(_ n: Int, _ size: Int) -> [(Int, Int, Float)] {
            (0..<n).map { i in
                let s = min(max((Double(i) + 0.5) * Double(size) / Double(n) - 0.5, 0), Double(size - 1))
                let i0 = Int(s), i1 = min(i0 + 1, size - 1)
                return (i0, i1, Float(s - Double(i0)))
            }
        }
        let xs = taps(nw, w), ys = taps(nh, h)
        var out = [Float](repeating: 0, count: 3 * nw * nh)
        for c in 0..<3 {
            for (y, (y0, y1, fy)) in ys.enumerated() {
                for (x, (x0, x1, fx)) in xs.enumerated() {
                    let p = c * w * h
                    let top = a[p + y0 * w + x0] * (1 - fx) + a[p + y0 * w + x1] * fx
                    let bottom = a[p + y1 * w + x0] * (1 - fx) + a[p + y1 * w + x1] * fx
                    out[c * nw * nh + y * nw + x] = top * (1 - fy) + bottom * fy
                }
            }
        }
        return out
    }
}

/// Builds the stylizer for an image size within a device-memory limit: the whole-image model
/// when its measured plan fits, otherwise the cheapest tiling that does.
public enum Stylizers {
    /// What a run may use unless told otherwise: 90% of a GPU's global memory (the rest is the
    /// driver's and other programs'). A CPU device's memory is the machine's RAM, shared with
    /// everything else (POCL offers half of it or more), so there at most 3 GiB: beyond about a
    /// megapixel of crop, bigger tiles gain little speed.
    public static func defaultLimit(_ device: Device) -> Int {
        let share = Int(Double(device.globalMemBytes) * 0.9)
        return device.isCPU ? min(share, 3 << 30) : share
    }

    public struct Choice {
        /// nil: the whole image at once.
        public let tiles: TilePlan?
        /// Device memory the model will allocate (measured, not allocated).
        public let memory: DeviceMemory
    }

    /// Device memory of a whole-image model (nothing is allocated).
    public static func measureWhole(context: CLContext, weights: VGGWeights, width: Int, height: Int,
                                    config: LossConfig, masked: Bool = false) throws -> DeviceMemory {
        try context.measure { _ = try StyleTransfer(context: context, weights: weights, width: width, height: height, config: config, masked: masked) }
    }

    public static func measureTiled(context: CLContext, weights: VGGWeights, plan: TilePlan, config: LossConfig) throws -> DeviceMemory {
        try context.measure { _ = try TiledStyleTransfer(context: context, weights: weights, plan: plan, config: config) }
    }

    /// The whole image if it fits `limit` bytes and the device's largest allocation, else the
    /// tiling with the fewest pixels to run per iteration that fits.
    public static func choose(context: CLContext, weights: VGGWeights, width: Int, height: Int, config: LossConfig,
                              masked: Bool = false, memoryLimit limit: Int) throws -> Choice {
        let maxAlloc = Int(context.device.maxAllocBytes)
        let fits = { (m: DeviceMemory) in m.total <= limit && m.largest <= maxAlloc }
        let whole = try measureWhole(context: context, weights: weights, width: width, height: height, config: config, masked: masked)
        if fits(whole) { return Choice(tiles: nil, memory: whole) }
        guard !config.normalizeGradients else {
            throw StyleTransferError("\(width)x\(height) needs \(whole), more than the \(mebibytes(limit)) allowed, and --normalize-gradients cannot run in tiles: lower the size or raise --max-memory")
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
        let low = try measureTiled(context: context, weights: weights, plan: smallest, config: config)
        let lowArea = Double(smallest.cropWidth * smallest.cropHeight), wholeArea = Double(width * height)
        let perPixel = max(0, Double(whole.total - low.total) / max(wholeArea - lowArea, 1))
        for p in plans {
            let guess = Double(low.total) + perPixel * (Double(p.cropWidth * p.cropHeight) - lowArea)
            if guess > Double(limit) * 1.05 { continue }
            let m = try measureTiled(context: context, weights: weights, plan: p, config: config)
            if fits(m) { return Choice(tiles: p, memory: m) }
        }
        throw StyleTransferError("\(width)x\(height) does not fit in \(mebibytes(limit)) of device memory even in \(smallest.tiles.count) tiles of \(smallest.cropWidth)x\(smallest.cropHeight) (they need \(low)); raise --max-memory or lower the size")
    }

    /// The stylizer `choose` picks, built.
    public static func make(context: CLContext, weights: VGGWeights, width: Int, height: Int, config: LossConfig,
                            masked: Bool = false, memoryLimit: Int) throws -> Stylizer {
        let choice = try choose(context: context, weights: weights, width: width, height: height, config: config,
                                masked: masked, memoryLimit: memoryLimit)
        return try build(choice, context: context, weights: weights, width: width, height: height, config: config, masked: masked)
    }

    /// The stylizer a `choice` (from `choose` with the same arguments) describes.
    public static func build(_ choice: Choice, context: CLContext, weights: VGGWeights, width: Int, height: Int,
                             config: LossConfig, masked: Bool = false) throws -> Stylizer {
        if let plan = choice.tiles {
            return try TiledStyleTransfer(context: context, weights: weights, plan: plan, config: config)
        }
        return try StyleTransfer(context: context, weights: weights, width: width, height: height, config: config, masked: masked)
    }
}
