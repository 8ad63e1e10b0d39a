/// The loss vector: one float per loss term, filled on the device by the loss ops and read
/// back once per iteration; and the partial-sum scratch their reductions share (the ops run
/// one after another on one queue).
public final class LossSlots {
    public let buffer: Buffer
    let partials: Buffer
    public private(set) var names: [String] = []
    let capacity: Int

    public init(context: CLContext, capacity: Int = 32) throws {
        self.capacity = capacity
        buffer = try context.buffer([Float](repeating: 0, count: capacity))
        partials = try context.buffer(floats: Kernels.partialCount)
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
    let target: Buffer
    let losses: LossSlots
    public let slot: Int
    /// neural-style's -normalize_gradients: the gradient is divided by its L1 norm.
    let normalized: GradientNormalizer?

    public var backwardReadsInputs: Bool { true }
    public var backwardReadsOutput: Bool { false }
    public var ownedBytes: Int { target.bytes + (normalized?.bytes ?? 0) }

    public init(name: String, kernels: Kernels, shape: TensorShape, weight: Float, losses: LossSlots,
                normalizeGradients: Bool = false) throws {
        self.name = name
        k = kernels
        self.shape = shape
        self.weight = weight
        self.losses = losses
        slot = losses.claim(name)
        target = try kernels.context.buffer([Float](repeating: 0, count: shape.count))
        normalized = normalizeGradients ? try GradientNormalizer(kernels: kernels, count: shape.count) : nil
    }

    public func captureTarget(_ b: OpBuffers) throws -> [Event] {
        try target.copy(from: b.inputs[0], count: shape.count)
        return []
    }

    public func forward(_ b: OpBuffers) throws -> [Event] {
        try k.sumSquaredDifference(b.inputs[0], target, count: shape.count, partials: losses.partials,
                                   losses: losses.buffer, slot: slot, scale: weight / Float(shape.count))
    }

    public func backward(_ b: OpBuffers) throws -> [Event] {
        if let normalized {
            let e = try k.scaledDifference(b.inputs[0], target, into: normalized.work, count: shape.count,
                                           scale: 2 / Float(shape.count), accumulate: false)
            return try [e] + normalized.add(weight, into: b.gradInputs[0], accumulate: b.accumulate[0])
        }
        return [try k.scaledDifference(b.inputs[0], target, into: b.gradInputs[0], count: shape.count,
                                       scale: 2 * weight / Float(shape.count), accumulate: b.accumulate[0])]
    }
}

/// weight · mean((gram(F) − G_target)²) with gram(F) = F Fᵀ / (C N) (one style layer).
/// Forward keeps gram(F) so backward only needs the C×N product S·F.
///
/// With a mask m (spatial control, Gatys et al. 2017) the layer's Gram matrix is that of F⊙m
/// divided by C·Σm, so the style is matched only where the mask is white, at full strength;
/// then ∂L/∂F = m² ⊙ (S·F).
public final class StyleLossOp: Op {
    public let name: String
    let k: Kernels
    let c, n: Int
    public let layerWidth, layerHeight: Int
    /// The mask at this layer's resolution, and its square, when spatial control is on.
    private var mask, maskSquared: Buffer?
    private var maskArea: Float = 0
    /// C×N scratch for the masked features (forward) and the unmasked gradient (backward).
    private var work: Buffer?
    let normalized: GradientNormalizer?
    public var weight: Float
    let target, gram, s, scratch: Buffer
    let losses: LossSlots
    public let slot: Int

    public var backwardReadsInputs: Bool { true }
    public var backwardReadsOutput: Bool { false }
    public var ownedBytes: Int {
        target.bytes + gram.bytes + s.bytes + scratch.bytes + (normalized?.bytes ?? 0)
            + (mask?.bytes ?? 0) * 2 + (work?.bytes ?? 0)
    }

    public init(name: String, kernels: Kernels, shape: TensorShape, weight: Float, losses: LossSlots,
                normalizeGradients: Bool = false) throws {
        self.name = name
        k = kernels
        c = shape.c
        n = shape.h * shape.w
        layerWidth = shape.w
        layerHeight = shape.h
        normalized = normalizeGradients ? try GradientNormalizer(kernels: kernels, count: shape.count) : nil
        self.weight = weight
        self.losses = losses
        slot = losses.claim(name)
        let ctx = kernels.context
        target = try ctx.buffer([Float](repeating: 0, count: c * c))
        gram = try ctx.buffer(floats: c * c)
        s = try ctx.buffer(floats: c * c)
        scratch = try ctx.buffer(floats: Kernels.gramScratchCount(c: c, n: n))
    }

    /// The Gram matrix of the last forward (or capture).
    public var gramMatrix: Buffer { gram }
    public var targetGram: Buffer { target }

    /// How a capture sets the target: target = blend·G, plus the old target when accumulating
    /// (several style images mixed with `--style-blend`).
    public var blend: Float = 1
    public var accumulateCapture = false

    /// Sets (or with nil clears) the mask: `values` holds this layer's height × width pixels in [0, 1].
    public func setMask(_ values: [Float]?) throws {
        guard let values else { mask = nil; maskSquared = nil; return }
        precondition(values.count == n, "mask has \(values.count) values for a \(layerWidth)x\(layerHeight) layer")
        mask = try k.context.buffer(values)
        maskSquared = try k.context.buffer(values.map { $0 * $0 })
        maskArea = max(values.reduce(0, +), 1e-6)
        if work == nil { work = try k.context.buffer(floats: c * n) }
    }

    /// The effective pixel count the Gram matrix is divided by.
    private var area: Float { mask == nil ? Float(n) : maskArea }

    private func computeGram(_ f: Buffer, masked: Bool) throws -> [Event] {
        if masked, let mask, let work {
            let e = try k.maskMultiply(f, mask: mask, into: work, channels: c, count: n, accumulate: false)
            return try [e] + k.gram(work, into: gram, scratch: scratch, channels: c, count: n, scale: 1 / (Float(c) * area))
        }
        return try k.gram(f, into: gram, scratch: scratch, channels: c, count: n, scale: 1 / Float(c * n))
    }

    /// The style image's Gram matrix is always of the whole picture.
    public func captureTarget(_ b: OpBuffers) throws -> [Event] {
        try computeGram(b.inputs[0], masked: false) + [k.axpby(blend, gram, accumulateCapture ? 1 : 0, target, count: c * c)]
    }

    public func forward(_ b: OpBuffers) throws -> [Event] {
        let cc = Float(c * c)
        return try computeGram(b.inputs[0], masked: true)
            + k.sumSquaredDifference(gram, target, count: c * c, partials: losses.partials,
                                     losses: losses.buffer, slot: slot, scale: weight / cc)
            // ∂L/∂G = 2w(G − Gs)/C²; ∂L/∂F = (∂L/∂G + ∂L/∂Gᵀ) F / (C N) = S F with:
            + [k.scaledDifference(gram, target, into: s, count: c * c,
                                  scale: 4 * weight / cc / (Float(c) * area), accumulate: false)]
    }

    public func backward(_ b: OpBuffers) throws -> [Event] {
        let f = b.inputs[0], grad = b.gradInputs[0], acc = b.accumulate[0]
        if mask == nil && normalized == nil {
            return [try k.gramBackward(s: s, f: f, gradF: grad, channels: c, count: n, accumulate: acc)]
        }
        // S·F into a scratch buffer, then the mask's square, then normalised or plain addition.
        let into = normalized?.work ?? work!
        var events = [try k.gramBackward(s: s, f: f, gradF: into, channels: c, count: n, accumulate: false)]
        if let maskSquared {
            events.append(try k.maskMultiply(into, mask: maskSquared, into: into, channels: c, count: n, accumulate: false))
        }
        if let normalized {
            return events + (try normalized.add(weight, into: grad, accumulate: acc))
        }
        events.append(try k.axpby(1, into, acc ? 1 : 0, grad, count: c * n))
        return events
    }
}

/// weight · the seed's total variation of the image (see cl/tv.cl).
public final class TVLossOp: Op {
    public let name: String
    let k: Kernels
    let shape: TensorShape
    public var weight: Float
    let losses: LossSlots
    public let slot: Int

    public var backwardReadsInputs: Bool { true }
    public var backwardReadsOutput: Bool { false }

    public init(name: String, kernels: Kernels, shape: TensorShape, weight: Float, losses: LossSlots) throws {
        self.name = name
        k = kernels
        self.shape = shape
        self.weight = weight
        self.losses = losses
        slot = losses.claim(name)
    }

    public func forward(_ b: OpBuffers) throws -> [Event] {
        try k.tv(b.inputs[0], channels: shape.c, height: shape.h, width: shape.w, weight: weight,
                 partials: losses.partials, losses: losses.buffer, slot: slot)
    }

    public func backward(_ b: OpBuffers) throws -> [Event] {
        [try k.tvBackward(b.inputs[0], grad: b.gradInputs[0], channels: shape.c, height: shape.h, width: shape.w,
                          weight: weight, accumulate: b.accumulate[0])]
    }
}

/// neural-style's -normalize_gradients for one loss: its gradient, computed into `work`, is
/// added as weight · work / (‖work‖₁ + 1e-8), the norm taken on the device.
final class GradientNormalizer {
    let k: Kernels
    let count: Int
    let work, norm, partials: Buffer
    var bytes: Int { work.bytes + norm.bytes + partials.bytes }

    init(kernels: Kernels, count: Int) throws {
        k = kernels
        self.count = count
        work = try kernels.context.buffer(floats: count)
        norm = try kernels.context.buffer(floats: 1)
        partials = try kernels.context.buffer(floats: Kernels.partialCount)
    }

    func add(_ weight: Float, into grad: Buffer, accumulate: Bool) throws -> [Event] {
        try k.l1Norm(work, count: count, partials: partials, result: norm, slot: 0)
            + [k.addNormalized(weight, work, norms: norm, slot: 0, into: grad, count: count, accumulate: accumulate)]
    }
}
