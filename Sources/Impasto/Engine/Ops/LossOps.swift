/// The loss vector: one float per loss term, filled on the device by the loss ops and read
/// back once per iteration.
public final class LossSlots {
    public let buffer: Buffer
    public private(set) var names: [String] = []
    let capacity: Int

    public init(context: CLContext, capacity: Int = 32) throws {
        self.capacity = capacity
        buffer = try context.buffer([Float](repeating: 0, count: capacity))
    }

    func claim(_ name: String) -> Int {
        precondition(names.count < capacity, "too many loss terms")
        names.append(name)
        return names.count - 1
    }

    public func read() throws -> [Float] { try buffer.read(count: names.count) }
}

/// weight · mean((F − F_target)²) on one layer's activations (the content loss).
public final class ContentLossOp: Op {
    public let name: String
    let k: Kernels
    let shape: TensorShape
    public var weight: Float
    let target, partials: Buffer
    let losses: LossSlots
    public let slot: Int

    public var backwardReadsInputs: Bool { true }
    public var backwardReadsOutput: Bool { false }
    public var ownedBytes: Int { target.bytes + partials.bytes }

    public init(name: String, kernels: Kernels, shape: TensorShape, weight: Float, losses: LossSlots) throws {
        self.name = name
        k = kernels
        self.shape = shape
        self.weight = weight
        self.losses = losses
        slot = losses.claim(name)
        target = try kernels.context.buffer([Float](repeating: 0, count: shape.count))
        partials = try kernels.context.buffer(floats: Kernels.partialCount)
    }

    public func captureTarget(_ b: OpBuffers) throws -> [Event] {
        try target.copy(from: b.inputs[0], count: shape.count)
        return []
    }

    public func forward(_ b: OpBuffers) throws -> [Event] {
        try k.sumSquaredDifference(b.inputs[0], target, count: shape.count, partials: partials,
                                   losses: losses.buffer, slot: slot, scale: weight / Float(shape.count))
    }

    public func backward(_ b: OpBuffers) throws -> [Event] {
        [try k.scaledDifference(b.inputs[0], target, into: b.gradInputs[0], count: shape.count,
                                scale: 2 * weight / Float(shape.count), accumulate: b.accumulate[0])]
    }
}

/// weight · mean((gram(F) − G_target)²) with gram(F) = F Fᵀ / (C N) (one style layer).
/// Forward keeps gram(F) so backward only needs the C×N product S·F.
public final class StyleLossOp: Op {
    public let name: String
    let k: Kernels
    let c, n: Int
    public var weight: Float
    let target, gram, s, scratch, partials: Buffer
    let losses: LossSlots
    public let slot: Int

    public var backwardReadsInputs: Bool { true }
    public var backwardReadsOutput: Bool { false }
    public var ownedBytes: Int { target.bytes + gram.bytes + s.bytes + scratch.bytes + partials.bytes }

    public init(name: String, kernels: Kernels, shape: TensorShape, weight: Float, losses: LossSlots) throws {
        self.name = name
        k = kernels
        c = shape.c
        n = shape.h * shape.w
        self.weight = weight
        self.losses = losses
        slot = losses.claim(name)
        let ctx = kernels.context
        target = try ctx.buffer([Float](repeating: 0, count: c * c))
        gram = try ctx.buffer(floats: c * c)
        s = try ctx.buffer(floats: c * c)
        scratch = try ctx.buffer(floats: Kernels.gramScratchCount(c: c, n: n, device: ctx.device))
        partials = try ctx.buffer(floats: Kernels.partialCount)
    }

    /// The Gram matrix of the last forward (or capture).
    public var gramMatrix: Buffer { gram }
    public var targetGram: Buffer { target }

    /// How a capture sets the target: target = blend·G, plus the old target when accumulating
    /// (several style images mixed with `--style-blend`).
    public var blend: Float = 1
    public var accumulateCapture = false

    private func computeGram(_ f: Buffer) throws -> [Event] {
        try k.gram(f, into: gram, scratch: scratch, channels: c, count: n, scale: 1 / Float(c * n))
    }

    public func captureTarget(_ b: OpBuffers) throws -> [Event] {
        try computeGram(b.inputs[0]) + [k.axpby(blend, gram, accumulateCapture ? 1 : 0, target, count: c * c)]
    }

    public func forward(_ b: OpBuffers) throws -> [Event] {
        let cc = Float(c * c)
        return try computeGram(b.inputs[0])
            + k.sumSquaredDifference(gram, target, count: c * c, partials: partials,
                                     losses: losses.buffer, slot: slot, scale: weight / cc)
            // ∂L/∂G = 2w(G − Gs)/C²; ∂L/∂F = (∂L/∂G + ∂L/∂Gᵀ) F / (C N) = S F with:
            + [k.scaledDifference(gram, target, into: s, count: c * c,
                                  scale: 4 * weight / cc / Float(c * n), accumulate: false)]
    }

    public func backward(_ b: OpBuffers) throws -> [Event] {
        [try k.gramBackward(s: s, f: b.inputs[0], gradF: b.gradInputs[0], channels: c, count: n,
                            accumulate: b.accumulate[0])]
    }
}

/// weight · the seed's total variation of the image (see cl/tv.cl).
public final class TVLossOp: Op {
    public let name: String
    let k: Kernels
    let shape: TensorShape
    public var weight: Float
    let partials: Buffer
    let losses: LossSlots
    public let slot: Int

    public var backwardReadsInputs: Bool { true }
    public var backwardReadsOutput: Bool { false }
    public var ownedBytes: Int { partials.bytes }

    public init(name: String, kernels: Kernels, shape: TensorShape, weight: Float, losses: LossSlots) throws {
        self.name = name
        k = kernels
        self.shape = shape
        self.weight = weight
        self.losses = losses
        slot = losses.claim(name)
        partials = try kernels.context.buffer(floats: Kernels.partialCount)
    }

    public func forward(_ b: OpBuffers) throws -> [Event] {
        try k.tv(b.inputs[0], channels: shape.c, height: shape.h, width: shape.w, weight: weight,
                 partials: partials, losses: losses.buffer, slot: slot)
    }

    public func backward(_ b: OpBuffers) throws -> [Event] {
        [try k.tvBackward(b.inputs[0], grad: b.gradInputs[0], channels: shape.c, height: shape.h, width: shape.w,
                          weight: weight, accumulate: b.accumulate[0])]
    }
}
