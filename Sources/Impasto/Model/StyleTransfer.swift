import Foundation

/// Loss weights and layers; the defaults are the seed's recipe (design.md §1).
public struct LossConfig {
    public var contentWeight: Float = 1
    public var styleWeight: Float = 1e4
    public var tvWeight: Float = 10
    public var styleLayers = VGG19.defaultStyleLayers
    public var contentLayers = VGG19.defaultContentLayers
    public init() {}
}

/// The loss terms of one iteration, weighted, as the seed's trajectory reports them.
public struct LossTerms: Equatable {
    public let content, style, tv: Float
    public var total: Float { content + style + tv }
}

/// Gatys style transfer on the device: the image X is the parameter, VGG19 is fixed. Holds
/// the graph, its executor and Adam's state for one image size.
public final class StyleTransfer {
    public let width, height: Int
    public let context: CLContext
    let kernels: Kernels
    let executor: Executor
    let losses: LossSlots
    let x, grad, adamM, adamV: Buffer
    public private(set) var moduleOutputs: [Int: TensorID] = [:]
    private var contentSlots: [Int] = [], styleSlots: [Int] = [], tvSlot = 0
    public private(set) var stepCount = 0
    public let styleOps: [StyleLossOp]

    var pixelCount: Int { 3 * width * height }

    public init(context: CLContext, weights: VGGWeights, width: Int, height: Int, config: LossConfig = LossConfig(),
                retainModules: Set<Int> = []) throws {
        guard width >= VGG19.minimumSide, height >= VGG19.minimumSide else {
            throw StyleTransferError("image size \(width)x\(height) is too small: VGG19's four poolings need at least \(VGG19.minimumSide)x\(VGG19.minimumSide)")
        }
        self.width = width
        self.height = height
        self.context = context
        kernels = try Kernels(context: context)
        losses = try LossSlots(context: context)
        let n = 3 * width * height
        x = try context.buffer([Float](repeating: 0, count: n))
        grad = try context.buffer([Float](repeating: 0, count: n))
        adamM = try context.buffer([Float](repeating: 0, count: n))
        adamV = try context.buffer([Float](repeating: 0, count: n))

        let graph = Graph()
        let image = graph.input(TensorShape(c: 3, h: height, w: width))
        let tv = try TVLossOp(name: "tv", kernels: kernels, shape: graph.shape(image), weight: config.tvWeight, losses: losses)
        graph.add(tv, inputs: [image], output: nil)
        tvSlot = tv.slot
        let last = (config.styleLayers + config.contentLayers).max() ?? 0
        var styles: [StyleLossOp] = []
        var contents: [Int] = []
        let kernels = self.kernels, losses = self.losses
        let outputs = try VGG19.build(into: graph, input: image, kernels: kernels, weights: weights, upTo: last) { i, t in
            if config.styleLayers.contains(i) {
                let op = try StyleLossOp(name: "style\(i)", kernels: kernels, shape: graph.shape(t), weight: config.styleWeight, losses: losses)
                graph.add(op, inputs: [t], output: nil)
                styles.append(op)
            }
            if config.contentLayers.contains(i) {
                let op = try ContentLossOp(name: "content\(i)", kernels: kernels, shape: graph.shape(t), weight: config.contentWeight, losses: losses)
                graph.add(op, inputs: [t], output: nil)
                contents.append(op.slot)
            }
        }
        moduleOutputs = outputs
        styleOps = styles
        styleSlots = styles.map(\.slot)
        contentSlots = contents
        graph.retained = Set(retainModules.compactMap { outputs[$0] })
        executor = try Executor(graph: graph, context: context, inputs: [image: x], inputGrads: [image: grad])
    }

    /// Device bytes: the activation plan, op-owned buffers (weights, targets), the image and Adam state.
    public var deviceBytes: Int { executor.deviceBytes + 4 * 4 * pixelCount + losses.buffer.bytes }
    public var plan: BufferPlan { executor.plan }
    public var executorGraph: Graph { executor.graph }

    private func check(_ image: [Float]) {
        precondition(image.count == pixelCount, "image has \(image.count) values, expected \(pixelCount)")
    }

    /// Records the style targets (Gram matrices) from a normalised planar image.
    public func setStyle(_ image: [Float]) throws {
        check(image)
        try x.write(image)
        try executor.forward(capturing: { $0 is StyleLossOp })
    }

    /// Records the content targets and starts the optimisation from this image (the seed's
    /// init), with fresh Adam state.
    public func setContent(_ image: [Float]) throws {
        check(image)
        try x.write(image)
        try executor.forward(capturing: { $0 is ContentLossOp })
        try resetOptimizer()
    }

    /// Sets X without touching targets.
    public func setImage(_ image: [Float]) throws {
        check(image)
        try x.write(image)
    }

    public func resetOptimizer() throws {
        try adamM.fill(0)
        try adamV.fill(0)
        stepCount = 0
    }

    public func image() throws -> [Float] { try x.read() }
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
        try executor.forward()
        try executor.backward()
        stepCount += 1
        try kernels.adamStep(x: x, grad: grad, m: adamM, v: adamV, count: pixelCount, lr: lr, t: stepCount)
        return try readLosses()
    }

    private func readLosses() throws -> LossTerms {
        let v = try losses.read()
        return LossTerms(content: contentSlots.reduce(0) { $0 + v[$1] },
                         style: styleSlots.reduce(0) { $0 + v[$1] },
                         tv: v[tvSlot])
    }

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
