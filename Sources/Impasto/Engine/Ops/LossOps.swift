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
///
/// Tiled (TiledStyleTransfer): the loss counts only the features the tile owns (an ownership
/// mask of 0s and 1s), over the whole image's feature count, and the target holds the owned
/// features only. Then Σ own·(F − T)² = Σ (own·F − T)², and the gradient is own·2(F − T).
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
    /// Tiled: the ownership mask (one value per pixel) and own·F from the last forward.
    let ownership, owned: Buffer?
    /// The feature count the mean is over: this layer's, or the whole image's when tiled.
    public var meanCount: Int

    public var backwardReadsInputs: Bool { true }
    public var backwardReadsOutput: Bool { false }
    public var ownedBytes: Int { target.bytes + (normalized?.bytes ?? 0) + (ownership?.bytes ?? 0) + (owned?.bytes ?? 0) }

    public init(name: String, kernels: Kernels, shape: TensorShape, weight: Float, losses: LossSlots,
                normalizeGradients: Bool = false, tiled: Bool = false) throws {
        precondition(!(tiled && normalizeGradients), "normalised gradients need the whole image's gradient")
        self.name = name
        k = kernels
        self.shape = shape
        self.weight = weight
        self.losses = losses
        meanCount = shape.count
        slot = losses.claim(name)
        let ctx = kernels.context
        target = try ctx.buffer(floats: shape.count)
        try target.fill(0)  // on the device: no host array of the layer's size (nor while measuring)
        normalized = normalizeGradients ? try GradientNormalizer(kernels: kernels, count: shape.count) : nil
        ownership = tiled ? try ctx.buffer([Float](repeating: 1, count: shape.h * shape.w)) : nil
        owned = tiled ? try ctx.buffer(floats: shape.count) : nil
    }

    /// Tiled: this tile's ownership mask (height × width values) and its target (C×H×W, zero
    /// outside the owned block).
    public func setTile(ownership mask: [Float], target values: [Float]) throws {
        guard let ownership else { preconditionFailure("\(name) is not tiled") }
        try ownership.write(mask)
        try target.write(values)
    }

    /// The target: the features (tiled: the owned ones) of the current input.
    public func captureTarget(_ b: OpBuffers) throws -> [Event] {
        if let ownership {
            return [try k.maskMultiply(b.inputs[0], mask: ownership, into: target, channels: shape.c, count: shape.h * shape.w, accumulate: false)]
        }
        if b.inputs[0].isHalf {  // the target stays fp32
            return [try k.axpby(1, b.inputs[0], 0, target, count: shape.count)]
        }
        try target.copy(from: b.inputs[0], count: shape.count)
        return []
    }

    public var targetValues: Buffer { target }

    public func forward(_ b: OpBuffers) throws -> [Event] {
        var events: [Event] = []
        var f = b.inputs[0]
        if let ownership, let owned {
            events.append(try k.maskMultiply(f, mask: ownership, into: owned, channels: shape.c, count: shape.h * shape.w, accumulate: false))
            f = owned
        }
        return try events + k.sumSquaredDifference(f, target, count: shape.count, partials: losses.partials,
                                                   losses: losses.buffer, slot: slot, scale: weight / Float(meanCount))
    }

    public func backward(_ b: OpBuffers) throws -> [Event] {
        if let normalized {
            let e = try k.scaledDifference(b.inputs[0], target, into: normalized.work, count: shape.count,
                                           scale: 2 / Float(shape.count), accumulate: false)
            return try [e] + normalized.add(weight, into: b.gradInputs[0], accumulate: b.accumulate[0])
        }
        return [try k.scaledDifference(owned ?? b.inputs[0], target, into: b.gradInputs[0], count: shape.count,
                                       scale: 2 * weight / Float(meanCount), accumulate: b.accumulate[0])]
    }
}

/// weight · mean((gram(F) − G_target)²) with gram(F) = F Fᵀ / (C N) (one style layer).
/// Forward keeps gram(F) so backward only needs the C×N product S·F.
///
/// With a mask m (spatial control, Gatys et al. 2017) the layer's Gram matrix is that of F⊙m
/// divided by C·Σm, so the style is matched only where the mask is white, at full strength;
/// then ∂L/∂F = m² ⊙ (S·F).
///
/// Tiled (TiledStyleTransfer), the mask is the tile's ownership times the user's mask and Σm
/// is the whole image's: in the `.gather` phase each tile's forward adds its share into the
/// Gram matrix, `finishGathered` turns the sum into the loss and S, and in the `.apply` phase
/// backward uses that S (forward does nothing).
public final class StyleLossOp: Op {
    public let name: String
    let k: Kernels
    let c, n: Int
    public let layerWidth, layerHeight: Int
    /// The mask at this layer's resolution, its square, and C×N scratch for the masked features
    /// (forward) and the unmasked gradient (backward); allocated with the op when it is built
    /// masked or tiled, else on the first `setMask`.
    private var maskBuffers: (mask: Buffer, squared: Buffer, work: Buffer)?
    private var masked = false
    private var maskArea: Float = 0
    let normalized: GradientNormalizer?
    public var weight: Float
    let target, gram, s, scratch: Buffer
    let losses: LossSlots
    public let slot: Int

    public enum TilePhase { case gather, apply }
    /// nil: the op sees the whole image.
    public var tilePhase: TilePhase?

    /// Set when F = conv3x3(input) + bias for an input that outlives the backward (the image,
    /// for a tap on conv1_1): S·F is then conv3x3(input) with weights S·W and bias S·b, so the
    /// backward does not read F and the plan frees it after the forward (51 MB at 500×400, the
    /// largest activation). The conv runs as Winograd in the graph's scratch.
    public struct LinearSource {
        let input, weights, bias: Buffer  // weights in PyTorch's [C][cin][3][3] layout
        let cin: Int
        let scratch: WinogradScratch
        let sWeights, sBias: Buffer       // S·W and S·b, made in each backward

        public init(kernels: Kernels, input: Buffer, cin: Int, weight: [Float], bias: [Float], scratch: WinogradScratch) throws {
            let ctx = kernels.context, c = bias.count
            self.input = input
            self.cin = cin
            self.scratch = scratch
            weights = try ctx.buffer(weight)
            self.bias = try ctx.buffer(bias)
            sWeights = try ctx.buffer(floats: weight.count)
            sBias = try ctx.buffer([Float](repeating: 0, count: c.roundedUp(to: Kernels.convOCB)))
        }

        var bytes: Int { weights.bytes + bias.bytes + sWeights.bytes + sBias.bytes }
    }
    let source: LinearSource?

    public var backwardReadsInputs: Bool { source == nil }
    public var backwardReadsOutput: Bool { false }
    public var ownedBytes: Int {
        target.bytes + gram.bytes + s.bytes + scratch.bytes + (normalized?.bytes ?? 0)
            + (maskBuffers.map { $0.mask.bytes + $0.squared.bytes + $0.work.bytes } ?? 0) + (source?.bytes ?? 0)
    }

    public init(name: String, kernels: Kernels, shape: TensorShape, weight: Float, losses: LossSlots,
                normalizeGradients: Bool = false, masked: Bool = false, tiled: Bool = false, source: LinearSource? = nil) throws {
        precondition(!(tiled && normalizeGradients), "normalised gradients need the whole image's gradient")
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
        gram = try ctx.buffer([Float](repeating: 0, count: c * c))
        s = try ctx.buffer(floats: c * c)
        scratch = try ctx.buffer(floats: Kernels.gramScratchCount(c: c, n: n))
        tilePhase = tiled ? .gather : nil
        self.source = source
        if let source { source.scratch.reserve(cin: source.cin, cout: c, h: shape.h, w: shape.w, backward: false) }
        if masked || tiled { try allocateMask() }
    }

    private func allocateMask() throws {
        let ctx = k.context
        maskBuffers = (try ctx.buffer(floats: n), try ctx.buffer(floats: n), try ctx.buffer(floats: c * n))
    }

    /// The Gram matrix of the last forward (or capture); tiled, the sum gathered so far.
    public var gramMatrix: Buffer { gram }
    public var targetGram: Buffer { target }

    /// Sets (or with nil clears) the mask: `values` holds this layer's height × width pixels in
    /// [0, 1]; the Gram matrix is divided by C·`area` (default Σ values).
    public func setMask(_ values: [Float]?, area: Float? = nil) throws {
        guard let values else { masked = false; return }
        precondition(values.count == n, "mask has \(values.count) values for a \(layerWidth)x\(layerHeight) layer")
        if maskBuffers == nil { try allocateMask() }
        try maskBuffers!.mask.write(values)
        try maskBuffers!.squared.write(values.map { $0 * $0 })
        maskArea = max(area ?? values.reduce(0, +), 1e-6)
        masked = true
    }

    /// The effective pixel count the Gram matrix is divided by.
    private var area: Float { masked ? maskArea : Float(n) }

    private func computeGram(_ f: Buffer, into g: Buffer) throws -> [Event] {
        if masked, let (mask, _, work) = maskBuffers {
            let e = try k.maskMultiply(f, mask: mask, into: work, channels: c, count: n, accumulate: false)
            return try [e] + k.gram(work, into: g, scratch: scratch, channels: c, count: n, scale: 1 / (Float(c) * area))
        }
        return try k.gram(f, into: g, scratch: scratch, channels: c, count: n, scale: 1 / Float(c * n))
    }

    /// Tiled: this tile's share of the Gram matrix, added to the sum (S is free until the sum
    /// is finished, so it holds the share).
    private func gather(_ f: Buffer) throws -> [Event] {
        try computeGram(f, into: s) + [k.axpby(1, s, 1, gram, count: c * c)]
    }

    /// Tiled: starts a new sum.
    public func clearGathered() throws { try gram.fill(0) }

    /// Tiled: the loss and S from the gathered Gram matrix.
    @discardableResult
    public func finishGathered() throws -> [Event] { try lossAndS() }

    /// The Gram matrix of the last capture (whole: this forward's; tiled: the gathered sum)
    /// becomes the target times `weight`, or is added to it (several style images mixed with
    /// `--style-blend`).
    public func setTarget(weight: Float, adding: Bool) throws {
        try k.axpby(weight, gram, adding ? 1 : 0, target, count: c * c)
    }

    /// The style image's Gram matrix into `gramMatrix`, for `setTarget` (tiled: this tile's
    /// share added to the sum; the masks then hold ownership only).
    public func captureTarget(_ b: OpBuffers) throws -> [Event] {
        if tilePhase != nil { return try gather(b.inputs[0]) }
        return try computeGram(b.inputs[0], into: gram)
    }

    private func lossAndS() throws -> [Event] {
        let cc = Float(c * c)
        return try k.sumSquaredDifference(gram, target, count: c * c, partials: losses.partials,
                                          losses: losses.buffer, slot: slot, scale: weight / cc)
            // ∂L/∂G = 2w(G − Gs)/C²; ∂L/∂F = (∂L/∂G + ∂L/∂Gᵀ) F / (C N) = S F with:
            + [k.scaledDifference(gram, target, into: s, count: c * c,
                                  scale: 4 * weight / cc / (Float(c) * area), accumulate: false)]
    }

    public func forward(_ b: OpBuffers) throws -> [Event] {
        switch tilePhase {
        case nil: return try computeGram(b.inputs[0], into: gram) + lossAndS()
        case .gather: return try gather(b.inputs[0])
        case .apply: return []
        }
    }

    public func backward(_ b: OpBuffers) throws -> [Event] {
        precondition(tilePhase != .gather, "\(name): backward in the gather phase")
        let f = b.inputs[0], grad = b.gradInputs[0], acc = b.accumulate[0]
        if !masked && normalized == nil { return try product(f, into: grad, accumulate: acc) }
        // S·F into a scratch buffer, then the mask's square, then normalised or plain addition.
        let into = normalized?.work ?? maskBuffers!.work
        var events = try product(f, into: into, accumulate: false)
        if masked, let squared = maskBuffers?.squared {
            events.append(try k.maskMultiply(into, mask: squared, into: into, channels: c, count: n, accumulate: false))
        }
        if let normalized {
            return events + (try normalized.add(weight, into: grad, accumulate: acc))
        }
        events.append(try k.axpby(1, into, acc ? 1 : 0, grad, count: c * n))
        return events
    }
}

extension StyleLossOp {
    /// out (+)= S·F, from F or (with a linear source) from the source.
    func product(_ f: Buffer, into out: Buffer, accumulate: Bool) throws -> [Event] {
        guard let src = source else {
            return [try k.gramBackward(s: s, f: f, gradF: out, channels: c, count: n, accumulate: accumulate)]
        }
        return [try k.gramBackward(s: s, f: src.weights, gradF: src.sWeights, channels: c, count: src.cin * 9, accumulate: false),
                try k.gramBackward(s: s, f: src.bias, gradF: src.sBias, channels: c, count: 1, accumulate: false)]
            + (try k.winogradConv(input: src.input, weights: src.sWeights, flipped: false, bias: src.sBias, output: out,
                                  cin: src.cin, cout: c, height: layerHeight, width: layerWidth, accumulate: accumulate,
                                  scratch: src.scratch))
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
