/// weight · mean((gram(F) − G_target)²) with gram(F) = F Fᵀ / (C N) (one style layer).
/// Forward keeps gram(F) so backward only needs the C×N product S·F.
///
/// With a mask m (spatial control, Gatys et al. 2017) the layer's Gram matrix is that of F⊙m
/// divided by C·Σm, so the style is matched only where the mask is white, at full strength;
/// then ∂L/∂F = m² ⊙ (S·F).
///
/// Tiled (`TiledObjective`), the mask is the tile's ownership times the user's mask and Σm is
/// the whole image's: a tile's forward (or capture) only adds its share into the Gram matrix;
/// after every tile, `finishGathered` turns the sum into the loss and S, and each tile's
/// backward then uses that S.
package final class StyleLossOp: Op {
    package let name: String
    let k: Kernels
    let c, n: Int
    package let layerWidth, layerHeight: Int
    let tiled: Bool
    /// The mask at this layer's resolution, its square, and C×N scratch for the masked features
    /// (forward) and the unmasked gradient (backward); allocated with the op when it is built
    /// masked or tiled, else on the first `setMask`.
    private var maskBuffers: (values: Buffer, squared: Buffer, work: Buffer)?
    private var masked = false
    /// The Σm the masked Gram matrix is divided by.
    private var maskArea: Float = 0
    let normalized: GradientNormalizer?
    package var weight: Float
    let target, gram, s, scratch: Buffer
    let losses: LossSlots
    package let slot: Int

    /// Set for a tap in the first conv block (conv1_1, relu1_1): there F is recomputed from the
    /// image in the backward, into the slot the plan lends then (`backwardWorkspace`), rather
    /// than kept alive from the forward through the whole backward (51 MB at 500×400, the
    /// largest activation). conv1_1 is 3→64 channels, a twentieth of conv1_2's work; its ops
    /// are the graph's own, so F is the forward's to the bit.
    package struct Recompute {
        /// The graph's ops from `input` to this op's input (conv1_1, with or without its ReLU).
        let ops: [Op]
        /// The network's input, which outlives the backward.
        let input: Buffer

        package init(ops: [Op], input: Buffer) {
            self.ops = ops
            self.input = input
        }

        /// F into `workspace`.
        func run(into workspace: Buffer) throws -> [Event] {
            var events: [Event] = [], x = input
            for op in ops {
                events += try op.forward(OpBuffers(inputs: [x], output: workspace, gradOutput: nil, gradInputs: [], accumulate: []))
                x = workspace
            }
            return events
        }
    }
    let recompute: Recompute?

    package var backwardReadsInputs: Bool { recompute == nil }
    package var backwardWorkspace: TensorShape? { recompute == nil ? nil : TensorShape(c: c, h: layerHeight, w: layerWidth) }
    package var backwardReadsOutput: Bool { false }
    package var ownedBytes: Int {
        target.bytes + gram.bytes + s.bytes + scratch.bytes + (normalized?.bytes ?? 0)
            + (maskBuffers.map { $0.values.bytes + $0.squared.bytes + $0.work.bytes } ?? 0)
    }

    package init(name: String, kernels: Kernels, shape: TensorShape, weight: Float, losses: LossSlots,
                normalizeGradients: Bool = false, masked: Bool = false, tiled: Bool = false, recompute: Recompute? = nil) throws {
        precondition(!(tiled && normalizeGradients), "normalised gradients need the whole image's gradient")
        self.name = name
        k = kernels
        c = shape.c
        n = shape.h * shape.w
        layerWidth = shape.w
        layerHeight = shape.h
        self.tiled = tiled
        normalized = normalizeGradients ? try GradientNormalizer(kernels: kernels, count: shape.count) : nil
        self.weight = weight
        self.losses = losses
        slot = losses.claim(name)
        let ctx = kernels.context
        target = try ctx.buffer([Float](repeating: 0, count: c * c))
        gram = try ctx.buffer([Float](repeating: 0, count: c * c))
        s = try ctx.buffer(floats: c * c)
        scratch = try ctx.buffer(floats: Kernels.gramScratchCount(c: c, n: n))
        self.recompute = recompute
        if masked || tiled { try allocateMask() }
    }

    private func allocateMask() throws {
        let ctx = k.context
        maskBuffers = (try ctx.buffer(floats: n), try ctx.buffer(floats: n), try ctx.buffer(floats: c * n))
    }

    /// The Gram matrix of the last forward (or capture); tiled, the sum gathered so far.
    package var gramMatrix: Buffer { gram }
    package var targetGram: Buffer { target }

    /// Whole image: sets (or with nil clears) the mask; `values` holds this layer's height ×
    /// width pixels in [0, 1].
    package func setMask(_ values: [Float]?) throws {
        precondition(!tiled, "\(name): a tile's mask is built on the device (`loadTile`)")
        guard let values else { masked = false; return }
        precondition(values.count == n, "mask has \(values.count) values for a \(layerWidth)x\(layerHeight) layer")
        if maskBuffers == nil { try allocateMask() }
        try maskBuffers!.values.write(values)
        try maskBuffers!.squared.write(values.map { $0 * $0 })
        maskArea = max(values.reduce(0, +), 1e-6)
        masked = true
    }

    /// Tiled: the tile's mask, built on the device: 1 on its `owned` block (this layer's
    /// coordinates), 0 elsewhere, times the tile's window of the user's whole-layer mask when
    /// there is one; the Gram matrix is divided by C·`area` (the whole layer's, or Σ user mask).
    package func loadTile(owned: PixelRect, user: TileMaskSource?, area: Float) throws {
        precondition(tiled, "\(name) is not tiled")
        guard let (values, squared, _) = maskBuffers else { preconditionFailure("tiled ops allocate their mask") }
        try k.tileMask(into: values, squared: squared, width: layerWidth, height: layerHeight, owned: owned, user: user)
        maskArea = max(area, 1e-6)
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
    package func clearGathered() throws { try gram.fill(0) }

    /// Tiled: the loss and S from the gathered Gram matrix.
    @discardableResult
    package func finishGathered() throws -> [Event] { try lossAndS() }

    /// The Gram matrix of the last capture (whole: this forward's; tiled: the gathered sum)
    /// becomes the target times `weight`, or is added to it (several style images mixed with
    /// `--style-blend`).
    package func setTarget(weight: Float, adding: Bool) throws {
        try k.axpby(weight, gram, adding ? 1 : 0, target, count: c * c)
    }

    /// The style image's Gram matrix into `gramMatrix`, for `setTarget` (tiled: this tile's
    /// share added to the sum).
    package func captureTarget(_ b: OpBuffers) throws -> [Event] {
        tiled ? try gather(b.inputs[0]) : try computeGram(b.inputs[0], into: gram)
    }

    private func lossAndS() throws -> [Event] {
        let cc = Float(c * c)
        return try k.sumSquaredDifference(gram, target, count: c * c, partials: losses.partials,
                                          losses: losses.buffer, slot: slot, scale: weight / cc)
            // ∂L/∂G = 2w(G − Gs)/C²; ∂L/∂F = (∂L/∂G + ∂L/∂Gᵀ) F / (C N) = S F with:
            + [k.scaledDifference(gram, target, into: s, count: c * c,
                                  scale: 4 * weight / cc / (Float(c) * area), accumulate: false)]
    }

    /// Whole: the Gram matrix, the loss and S. Tiled: the tile's share of the Gram matrix.
    package func forward(_ b: OpBuffers) throws -> [Event] {
        tiled ? try gather(b.inputs[0]) : try computeGram(b.inputs[0], into: gram) + lossAndS()
    }

    package func backward(_ b: OpBuffers) throws -> [Event] {
        let grad = b.gradInputs[0], acc = b.accumulate[0]
        var events = try recompute?.run(into: b.workspace!) ?? []
        let f = recompute == nil ? b.inputs[0] : b.workspace!
        if !masked && normalized == nil { return events + [try product(f, into: grad, accumulate: acc)] }
        // S·F into a scratch buffer, then the mask's square, then normalised or plain addition.
        let into = normalized?.work ?? maskBuffers!.work
        events.append(try product(f, into: into, accumulate: false))
        if masked, let squared = maskBuffers?.squared {
            events.append(try k.maskMultiply(into, mask: squared, into: into, channels: c, count: n, accumulate: false))
        }
        if let normalized {
            return events + (try normalized.add(weight, into: grad, accumulate: acc))
        }
        events.append(try k.axpby(1, into, acc ? 1 : 0, grad, count: c * n))
        return events
    }

    /// out (+)= S·F.
    private func product(_ f: Buffer, into out: Buffer, accumulate: Bool) throws -> Event {
        try k.gramBackward(s: s, f: f, gradF: out, channels: c, count: n, accumulate: accumulate)
    }
}
