import Foundation

/// VGG19 with its loss ops on one input size: the graph, the executor over its buffer plan,
/// the loss slots and the style, content and TV ops. Both objectives run one:
/// `WholeImageObjective` on the image itself, `TiledObjective` on a crop of it (`tileOf` set:
/// losses count only the features a tile owns, over the whole image's counts, and there is no
/// TV op, the TV term being the whole image's).
package final class LossNetwork {
    package let width, height: Int
    package let kernels: Kernels
    let executor: Executor
    let losses: LossSlots
    let winograd: WinogradScratch
    /// The image (3×H×W) the network reads, and where ∂total/∂image goes; the caller's buffers.
    package let input, inputGrad: Buffer
    package private(set) var moduleOutputs: [Int: TensorID] = [:]
    package let styleOps: [StyleLossOp]
    package let contentOps: [ContentLossOp]
    /// The module each style and content op is attached to, in order.
    package let styleModules: [Int]
    package let contentModules: [Int]
    /// Each style op's share of the style weight (its layer weight).
    let styleFactors: [Float]
    let tvOp: TVLossOp?

    /// `masks`: the style regions, each with its own mask and target, that the style ops hold
    /// (0: one unmasked target), allocated now so that `CLContext.reserve` counts them.
    /// `tileOf`: the whole image this network sees crops of.
    init(kernels: Kernels, weights: VGGWeights, width: Int, height: Int, config: LossConfig, input: Buffer, inputGrad: Buffer,
         retainModules: Set<Int> = [], masks: Int = 0, tileOf whole: (width: Int, height: Int)? = nil) throws {
        self.width = width
        self.height = height
        self.kernels = kernels
        self.input = input
        self.inputGrad = inputGrad
        let context = kernels.context
        winograd = WinogradScratch(maxTiles: kernels.tuning.winogradTiles)
        losses = try LossSlots(context: context, capacity: config.styleLayers.count * max(masks, 1) + config.contentLayers.count + 1)

        let graph = Graph()
        let image = graph.input(TensorShape(c: 3, h: height, w: width))
        if whole == nil {
            let tv = try TVLossOp(name: "tv", kernels: kernels, shape: graph.shape(image), weight: LossWeights.seed.tv, losses: losses)
            graph.add(tv, inputs: [image], output: nil)
            tvOp = tv
        } else {
            tvOp = nil
        }
        let last = (config.styleLayers + config.contentLayers).max() ?? 0
        var styles: [StyleLossOp] = [], factors: [Float] = [], contents: [ContentLossOp] = []
        var styleAt: [Int] = [], contentAt: [Int] = []
        let losses = self.losses, winograd = self.winograd
        let outputs = try VGG19.build(into: graph, input: image, kernels: kernels, weights: weights, upTo: last,
                                      pooling: config.pooling, scratch: winograd, algorithm: config.convolution,
                                      keep: Set(config.styleLayers + config.contentLayers).union(retainModules)) { i, t in
            let shape = graph.shape(t)
            if config.styleLayers.contains(i) {
                let factor = config.layerFactor(i)
                // The first conv block's features are cheap to recompute from the image.
                let recompute = i < VGG19.convIndices[1]
                    ? graph.chain(from: image, to: t).map { StyleLossOp.Recompute(ops: $0, input: input) } : nil
                let op = try StyleLossOp(name: "style\(i)", kernels: kernels, shape: shape, weight: LossWeights.seed.style * factor,
                                         losses: losses, kind: config.styleLoss, normalizeGradients: config.normalizeGradients,
                                         masks: masks, tiled: whole != nil, recompute: recompute)
                graph.add(op, inputs: [t], output: nil)
                styles.append(op)
                factors.append(factor)
                styleAt.append(i)
            }
            if config.contentLayers.contains(i) {
                let s = VGG19.scale(at: i)
                let meanCount = whole.map { shape.c * ($0.height / s) * ($0.width / s) } ?? shape.count
                let op = try ContentLossOp(name: "content\(i)", kernels: kernels, shape: shape, weight: LossWeights.seed.content,
                                           losses: losses, normalizeGradients: config.normalizeGradients,
                                           tiled: whole != nil, meanCount: meanCount)
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
        executor = try Executor(graph: graph, context: context, inputs: [image: input], inputGrads: [image: inputGrad],
                                storage: config.storage)
        _ = try winograd.buffers(context)  // now, not at the first forward: all memory is taken here
    }

    /// Device bytes: the activation plan, op-owned buffers (weights, targets), the
    /// convolutions' shared scratch and the loss slots (not the caller's input buffers).
    var deviceBytes: Int { executor.deviceBytes + winograd.bytes + losses.buffer.bytes + losses.partials.bytes }
    package var plan: BufferPlan { executor.plan }
    package var graph: Graph { executor.graph }

    /// Forward and backward at the current input: every loss, and ∂total/∂input.
    func evaluate() throws -> LossTerms { try startEvaluation().wait() }

    /// `evaluate` enqueued: the losses come as a read the host waits for only when it needs them.
    func startEvaluation() throws -> PendingLosses {
        try executor.forward()
        try executor.backward()
        let read = try losses.buffer.readLater(count: losses.names.count)
        return PendingLosses([read]) { [self] in terms($0[0]) }
    }

    /// Forward through the network only: the loss ops' inputs, for a backward that needs no
    /// losses (a tiled objective's second sweep).
    func forwardFeatures() throws { try executor.forward(capturing: { _ in false }) }

    /// The style ops record the Gram matrices of the current input (see `StyleLossOp.setTarget`).
    func captureStyleGrams() throws { try executor.forward(capturing: { $0 is StyleLossOp }) }

    /// The content ops record the current input's features as their targets.
    func captureContent() throws { try executor.forward(capturing: { $0 is ContentLossOp }) }

    /// The loss weights (every style layer's weight is `style` times its layer factor); a
    /// network starts with `LossWeights.seed`.
    func setWeights(_ w: LossWeights) {
        for op in contentOps { op.weight = w.content }
        for (op, factor) in zip(styleOps, styleFactors) { op.weight = w.style * factor }
        tvOp?.weight = w.tv
    }

    func terms(_ v: [Float]) -> LossTerms {
        LossTerms(content: contentOps.reduce(0) { $0 + v[$1.slot] },
                  style: styleOps.reduce(0) { $0 + $1.slots.reduce(0) { $0 + v[$1] } },
                  tv: tvOp.map { v[$0.slot] } ?? 0)
    }

    package func moduleOutput(_ i: Int) throws -> [Float] {
        guard let t = moduleOutputs[i] else { throw StyleTransferError("module \(i) is not built") }
        return try executor.value(t).read(count: executor.graph.shape(t).count)
    }

    /// Per-op device seconds over the iterations run while profiling was on.
    package var profiling: Bool {
        get { executor.profiling }
        set { executor.profiling = newValue; if !newValue { executor.resetProfile() } }
    }
    package func profile() throws -> [String: Double] {
        try executor.collectProfile()
        return executor.profile
    }
}
