import Foundation

/// Loss weights and layers; the defaults are the seed's recipe (design.md §1).
public struct LossConfig {
    public var contentWeight: Float = 1
    public var styleWeight: Float = 1e4
    public var tvWeight: Float = 10
    public var styleLayers = VGG19.defaultStyleLayers
    /// A factor per style layer (neural-style's style_layer_weights); nil: 1 each.
    public var styleLayerWeights: [Float]?
    public var contentLayers = VGG19.defaultContentLayers
    public var pooling = VGG19.Pooling.max
    /// Divide each loss's gradient by its L1 norm (neural-style's -normalize_gradients).
    public var normalizeGradients = false
    /// How the convolutions run (see `ConvAlgorithm`).
    public var convolution = ConvAlgorithm.winograd
    /// How activations and their gradients are stored: fp32, or fp16 (half the memory of the
    /// activation plan; every sum stays fp32). fp16 needs a device with cl_khr_fp16.
    public var storage = Storage.fp32
    public init() {}

    /// What this configuration needs of a device: fp16 storage, cl_khr_fp16.
    public func check(on device: Device) throws {
        if storage == .fp16 && !device.hasFP16 {
            throw StyleTransferError("fp16 storage needs a device with cl_khr_fp16, and \(device.name) does not have it; use fp32 storage (the default)")
        }
    }

    func layerFactor(_ module: Int) -> Float {
        guard let w = styleLayerWeights, let k = styleLayers.firstIndex(of: module), k < w.count else { return 1 }
        return w[k]
    }
}

/// Which algorithm the 3×3 convolutions use. Winograd F(4x4, 3x3) takes 4× fewer multiplies
/// on every layer with at least 16 channels (the RGB layer always runs direct); direct is the
/// plain sum of 9·Cin products per output, closer to float64 (README, "Accuracy").
public enum ConvAlgorithm: String, CaseIterable { case winograd, direct }

/// The loss terms of one iteration, weighted, as the seed's trajectory reports them.
public struct LossTerms: Equatable {
    public let content, style, tv: Float
    public var total: Float { content + style + tv }
}

/// Gatys style transfer on the device: the image X is the parameter, VGG19 is fixed. Holds
/// the graph, its executor and Adam's state for one image size. Built `tiled`, it is the
/// crop-sized network a `TiledStyleTransfer` runs over each tile (no TV term, no optimiser
/// state, ownership masks on every loss).
public final class StyleTransfer: Stylizer {
    public let width, height: Int
    public let context: CLContext
    public let config: LossConfig
    public let kernels: Kernels
    let executor: Executor
    let losses: LossSlots
    let winograd: WinogradScratch
    public let x, grad: Buffer
    /// X with Adam's state and picture staging; nil when tiled (the tiled model keeps the picture).
    let parameter: OptimizedImage?
    public private(set) var moduleOutputs: [Int: TensorID] = [:]
    public let styleOps: [StyleLossOp]
    /// The module each style and content op is attached to, in order.
    public let styleModules: [Int]
    public let contentModules: [Int]
    /// Each style op's share of the style weight (its layer weight).
    let styleFactors: [Float]
    public let contentOps: [ContentLossOp]
    let tvOp: TVLossOp?

    public var pixelCount: Int { 3 * width * height }

    /// `masked`: allocate the style mask buffers now (a mask will be set), so that everything
    /// the model needs is allocated here and `CLContext.measure` sees it.
    public init(context: CLContext, weights: VGGWeights, width: Int, height: Int, config: LossConfig = LossConfig(),
                retainModules: Set<Int> = [], masked: Bool = false, tiled: Bool = false) throws {
        guard width >= VGG19.minimumSide, height >= VGG19.minimumSide else {
            throw StyleTransferError("image size \(width)x\(height) is too small: VGG19's four poolings need at least \(VGG19.minimumSide)x\(VGG19.minimumSide)")
        }
        try config.check(on: context.device)
        self.width = width
        self.height = height
        self.context = context
        self.config = config
        kernels = try Kernels(context: context)
        winograd = WinogradScratch(maxTiles: kernels.tuning.winogradTiles)
        losses = try LossSlots(context: context)
        if tiled {
            parameter = nil
            x = try context.buffer(floats: 3 * width * height)
            grad = try context.buffer(floats: 3 * width * height)
            for b in [x, grad] { try b.fill(0) }
        } else {
            let p = try OptimizedImage(kernels: kernels, width: width, height: height)
            parameter = p
            x = p.x
            grad = p.grad
        }

        let graph = Graph()
        let image = graph.input(TensorShape(c: 3, h: height, w: width))
        if tiled {
            tvOp = nil  // TV is the whole image's (TiledStyleTransfer)
        } else {
            let tv = try TVLossOp(name: "tv", kernels: kernels, shape: graph.shape(image), weight: config.tvWeight, losses: losses)
            graph.add(tv, inputs: [image], output: nil)
            tvOp = tv
        }
        let last = (config.styleLayers + config.contentLayers).max() ?? 0
        var styles: [StyleLossOp] = [], factors: [Float] = [], contents: [ContentLossOp] = []
        var styleAt: [Int] = [], contentAt: [Int] = []
        let kernels = self.kernels, losses = self.losses, x = self.x, winograd = self.winograd
        let scratch = config.convolution == .winograd ? winograd : nil
        let outputs = try VGG19.build(into: graph, input: image, kernels: kernels, weights: weights, upTo: last,
                                      pooling: config.pooling, scratch: scratch,
                                      keep: Set(config.styleLayers + config.contentLayers).union(retainModules)) { i, t in
            if config.styleLayers.contains(i) {
                let factor = config.layerFactor(i)
                // conv1_1's features are a linear function of the image, which outlives the backward.
                let source = try i == 0 && scratch != nil ? weights.convs[0].map {
                    try StyleLossOp.LinearSource(kernels: kernels, input: x, cin: 3, weight: $0.weight, bias: $0.bias, scratch: winograd)
                } : nil
                let op = try StyleLossOp(name: "style\(i)", kernels: kernels, shape: graph.shape(t),
                                         weight: config.styleWeight * factor, losses: losses,
                                         normalizeGradients: config.normalizeGradients, masked: masked, tiled: tiled, source: source)
                graph.add(op, inputs: [t], output: nil)
                styles.append(op)
                factors.append(factor)
                styleAt.append(i)
            }
            if config.contentLayers.contains(i) {
                let op = try ContentLossOp(name: "content\(i)", kernels: kernels, shape: graph.shape(t), weight: config.contentWeight,
                                           losses: losses, normalizeGradients: config.normalizeGradients, tiled: tiled)
                graph.add(op, inputs: [t], output: nil)
                contents.append(op)
                contentAt.append(i)
            }
        }
        moduleOutputs = outputs
        styleOps = styles
        styleFactors = factors
        contentOps = contents
        styleModules = styleAt
        contentModules = contentAt
        graph.retained = Set(retainModules.compactMap { outputs[$0] })
        executor = try Executor(graph: graph, context: context, inputs: [image: x], inputGrads: [image: grad], storage: config.storage)
        _ = try winograd.buffers(context)  // now, not at the first forward: all memory is taken here
    }

    /// Device bytes: the activation plan, op-owned buffers (weights, targets), the convolutions'
    /// shared scratch, the image, its gradient, staging copy and Adam state.
    public var deviceBytes: Int {
        executor.deviceBytes + winograd.bytes + (parameter?.bytes ?? x.bytes + grad.bytes)
            + losses.buffer.bytes + losses.partials.bytes
    }
    public var plan: BufferPlan { executor.plan }
    public var executorGraph: Graph { executor.graph }

    /// X with its optimiser and staging: a whole picture's model only.
    private var whole: OptimizedImage {
        guard let parameter else { preconditionFailure("a tiled model has no optimiser and takes no pictures") }
        return parameter
    }

    /// Records the style targets (Gram matrices) from a normalised planar image.
    public func setStyle(_ image: [Float]) throws {
        try setImage(image)
        try captureStyleGrams()
        for op in styleOps { try op.setTarget(weight: 1, adding: false) }
    }

    /// Each style op's Gram matrix of the current X (for `StyleLossOp.setTarget`).
    private func captureStyleGrams() throws {
        try executor.forward(capturing: { $0 is StyleLossOp })
    }

    /// Records the content targets and starts the optimisation from this image (the seed's
    /// init), with fresh Adam state.
    public func setContent(_ image: [Float]) throws {
        try setImage(image)
        try captureContent()
    }

    /// Content targets from the current X; Adam starts afresh.
    func captureContent() throws {
        try executor.forward(capturing: { $0 is ContentLossOp })
        try parameter?.resetAdam()
    }

    /// Sets X without touching targets.
    public func setImage(_ image: [Float]) throws {
        precondition(image.count == pixelCount, "image has \(image.count) values, expected \(pixelCount)")
        try x.write(image)
    }

    public func image() throws -> [Float] { try x.read() }

    /// The normalised planar form of a picture of this model's size (the seed's pre-processing,
    /// on the device).
    public func normalized(_ picture: RGBImage) throws -> [Float] {
        try upload(picture)
        return try x.read()
    }

    /// Puts a picture (already at this size) into X, normalised.
    public func upload(_ picture: RGBImage) throws { try whole.upload(picture) }

    /// X as a picture: denormalised and clamped to [0, 1] (the seed's post-processing).
    public func picture() throws -> RGBImage { try whole.picture() }

    /// Style targets from a picture of this size.
    public func setStyle(_ picture: RGBImage) throws {
        try captureStyles([(picture, 1)])
    }

    public func captureStyles(_ styles: [(RGBImage, Float)]) throws {
        let total = styles.reduce(Float(0)) { $0 + $1.1 }
        for (k, (picture, weight)) in styles.enumerated() {
            try upload(picture)
            try captureStyleGrams()
            for op in styleOps { try op.setTarget(weight: weight / total, adding: k > 0) }
        }
    }

    /// Content targets from a picture of this size; X starts there, Adam state is reset.
    public func setContent(_ picture: RGBImage) throws {
        try upload(picture)
        try captureContent()
    }

    /// Spatial control: the style applies where `mask` is white (soft edges blend), not where
    /// it is black; the content and TV terms act everywhere. Any size: it is resized to each
    /// style layer. nil removes the mask.
    public func setMask(_ mask: RGBImage?) throws {
        for op in styleOps {
            try op.setMask(mask.map { Self.maskValues($0, width: op.layerWidth, height: op.layerHeight) })
        }
    }

    /// A mask picture's luminance at a layer's size, one value per pixel.
    static func maskValues(_ mask: RGBImage, width: Int, height: Int) -> [Float] {
        let small = ColorTransfer.luminance(mask).resized(width: width, height: height)
        return stride(from: 0, to: small.pixels.count, by: 3).map { small.pixels[$0] }
    }

    /// Changes the loss weights (all style layers share one weight).
    public func setWeights(content: Float, style: Float, tv: Float) {
        for op in contentOps { op.weight = content }
        for (op, factor) in zip(styleOps, styleFactors) { op.weight = style * factor }
        tvOp?.weight = tv
    }
    public func gradient() throws -> [Float] { try grad.read() }

    public func moduleOutput(_ i: Int) throws -> [Float] {
        guard let t = moduleOutputs[i] else { throw StyleTransferError("module \(i) is not built") }
        return try executor.value(t).read(count: executor.graph.shape(t).count)
    }

    /// Forward and backward at the current X: the loss terms, and ∂total/∂X in `gradient()`.
    public func evaluate() throws -> LossTerms {
        try executor.forward()
        try executor.backward()
        return try readLosses()
    }

    /// One optimisation step: losses at the current X (returned), then Adam updates X.
    public func step(lr: Float) throws -> LossTerms {
        let terms = try evaluate()
        try whole.adamStep(lr: lr)
        return terms
    }

    public func adamState() throws -> AdamState { try whole.adamState() }
    public func restoreAdam(_ state: AdamState) throws { try whole.restoreAdam(state) }

    private func readLosses() throws -> LossTerms { terms(try losses.read()) }

    private func terms(_ v: [Float]) -> LossTerms {
        LossTerms(content: contentOps.reduce(0) { $0 + v[$1.slot] },
                         style: styleOps.reduce(0) { $0 + v[$1.slot] },
                         tv: tvOp.map { v[$0.slot] } ?? 0)
    }

    /// The loss vector as the ops last wrote it (a tiled model's per-tile content terms).
    func lossValues() throws -> [Float] { try losses.read() }

    /// Per-op device seconds over the iterations run while profiling was on.
    public var profiling: Bool {
        get { executor.profiling }
        set { executor.profiling = newValue; if !newValue { executor.resetProfile() } }
    }
    public func profile() throws -> [String: Double] {
        try executor.collectProfile()
        return executor.profile
    }
}

public struct StyleTransferError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
