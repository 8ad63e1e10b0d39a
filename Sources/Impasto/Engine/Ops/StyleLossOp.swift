/// weight · mean((gram(F) − G_target)²) with gram(F) = F Fᵀ / (C N) (one style layer).
/// Forward keeps gram(F) so backward only needs the C×N product S·F.
///
/// With masks (spatial control, Gatys et al. 2017) the layer holds one region per mask, each
/// with its own target: region r's Gram matrix is that of F⊙mᵣ divided by C·Σmᵣ, so its style
/// is matched only where its mask is white, at full strength however small the region; the
/// loss is the regions' sum and ∂L/∂F = Σᵣ mᵣ² ⊙ (Sᵣ·F).
///
/// Tiled (`TiledObjective`), each mask is the tile's ownership times the user's mask and Σm is
/// the whole image's: a tile's forward (or capture) only adds its share into the Gram matrices;
/// after every tile, `finishGathered` turns the sums into the losses and S, and each tile's
/// backward then uses those S.
package final class StyleLossOp: Op {
    package let name: String
    let k: Kernels
    let c, n: Int
    package let layerWidth, layerHeight: Int
    let tiled: Bool
    /// One region's state: its target, the Gram matrix of the last forward, S, and (masked or
    /// tiled) its mask at this layer's resolution with its square.
    private struct Region {
        let target, gram, s: Buffer
        let mask: (values: Buffer, squared: Buffer)?
        let slot: Int
        /// The Σm the masked Gram matrix is divided by.
        var area: Float = 0
    }
    /// One region per mask the op was built for (one, unmasked, when none).
    private var regions: [Region]
    /// C×N scratch for the masked features (forward) and one region's gradient (backward);
    /// only when masked or tiled.
    private let work: Buffer?
    /// How many regions' masks are in use: 0 for the plain Gram loss over the whole layer.
    private var active = 0
    let normalized: GradientNormalizer?
    package var weight: Float
    let scratch: Buffer
    let losses: LossSlots
    /// The masks this op can hold (0: unmasked only).
    package let maskCount: Int

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
        regions.reduce(0) { $0 + $1.target.bytes + $1.gram.bytes + $1.s.bytes + ($1.mask.map { $0.values.bytes + $0.squared.bytes } ?? 0) }
            + scratch.bytes + (work?.bytes ?? 0) + (normalized?.bytes ?? 0)
    }

    /// `masks`: how many masked regions the op holds, each with its own target (0: one target
    /// over the whole layer). A tiled op always has masks: a tile's ownership at least.
    package init(name: String, kernels: Kernels, shape: TensorShape, weight: Float, losses: LossSlots,
                normalizeGradients: Bool = false, masks: Int = 0, tiled: Bool = false, recompute: Recompute? = nil) throws {
        precondition(!(tiled && normalizeGradients), "normalised gradients need the whole image's gradient")
        precondition(masks >= 0, "a negative mask count")
        self.name = name
        k = kernels
        c = shape.c
        n = shape.h * shape.w
        layerWidth = shape.w
        layerHeight = shape.h
        self.tiled = tiled
        maskCount = masks
        normalized = normalizeGradients ? try GradientNormalizer(kernels: kernels, count: shape.count) : nil
        self.weight = weight
        self.losses = losses
        let ctx = kernels.context
        let (c, n) = (c, n), withMasks = masks > 0 || tiled
        regions = try (0..<max(masks, 1)).map { r in
            Region(target: try ctx.buffer([Float](repeating: 0, count: c * c)), gram: try ctx.buffer([Float](repeating: 0, count: c * c)),
                   s: try ctx.buffer(floats: c * c),
                   mask: withMasks ? (try ctx.buffer(floats: n), try ctx.buffer(floats: n)) : nil,
                   slot: losses.claim(masks > 1 ? "\(name).\(r)" : name))
        }
        work = withMasks ? try ctx.buffer(floats: c * n) : nil
        scratch = try ctx.buffer(floats: Kernels.gramScratchCount(c: c, n: n))
        self.recompute = recompute
    }

    /// The loss slots this op's terms are in now (one per region in use).
    package var slots: [Int] { regions.prefix(max(active, 1)).map(\.slot) }

    /// The Gram matrix of the last forward or capture (region 0's; tiled, the sum gathered so
    /// far), and each region's target.
    package var gramMatrix: Buffer { regions[0].gram }
    package var targetGrams: [Buffer] { regions.map(\.target) }
    package var targetGram: Buffer { regions[0].target }

    /// Whole image: sets the masks (one per region, each this layer's height × width pixels in
    /// [0, 1]), or with none goes back to the plain loss over the whole layer.
    package func setMasks(_ masks: [[Float]]) throws {
        precondition(!tiled, "\(name): a tile's masks are built on the device (`loadTile`)")
        guard masks.isEmpty || masks.count == maskCount else {
            throw StyleTransferError("\(name) holds \(maskCount) masks, not \(masks.count)")
        }
        for (r, values) in masks.enumerated() {
            precondition(values.count == n, "mask has \(values.count) values for a \(layerWidth)x\(layerHeight) layer")
            try regions[r].mask!.values.write(values)
            try regions[r].mask!.squared.write(values.map { $0 * $0 })
            regions[r].area = max(values.reduce(0, +), 1e-6)
        }
        active = masks.count
    }

    /// The user's mask of one region, for a tile: its window of the whole layer's mask and the
    /// whole mask's sum.
    package struct TileRegion {
        let source: TileMaskSource
        let area: Float
    }

    /// Tiled: the tile's masks, built on the device: 1 on its `owned` block (this layer's
    /// coordinates), 0 elsewhere, times each region's window of the user's whole-layer mask;
    /// with no region, ownership alone over the whole layer's area (`wholeArea`).
    package func loadTile(owned: PixelRect, regions users: [TileRegion], wholeArea: Float) throws {
        precondition(tiled, "\(name) is not tiled")
        precondition(users.count <= regions.count, "\(name) holds \(regions.count) regions, not \(users.count)")
        if users.isEmpty {
            let mask = regions[0].mask!
            try k.tileMask(into: mask.values, squared: mask.squared, width: layerWidth, height: layerHeight, owned: owned, user: nil)
            regions[0].area = max(wholeArea, 1e-6)
            active = 1
            return
        }
        for (r, user) in users.enumerated() {
            let mask = regions[r].mask!
            try k.tileMask(into: mask.values, squared: mask.squared, width: layerWidth, height: layerHeight, owned: owned, user: user.source)
            regions[r].area = max(user.area, 1e-6)
        }
        active = users.count
    }

    private func computeGram(_ f: Buffer, region r: Int, into g: Buffer) throws -> [Event] {
        if active > 0, let (mask, _) = regions[r].mask, let work {
            let e = try k.maskMultiply(f, mask: mask, into: work, channels: c, count: n, accumulate: false)
            return try [e] + k.gram(work, into: g, scratch: scratch, channels: c, count: n, scale: 1 / (Float(c) * regions[r].area))
        }
        return try k.gram(f, into: g, scratch: scratch, channels: c, count: n, scale: 1 / Float(c * n))
    }

    /// Tiled: this tile's share of each region's Gram matrix, added to its sum (S is free until
    /// the sum is finished, so it holds the share).
    private func gather(_ f: Buffer) throws -> [Event] {
        var events: [Event] = []
        for r in 0..<active {
            let region = regions[r]
            events += try computeGram(f, region: r, into: region.s) + [k.axpby(1, region.s, 1, region.gram, count: c * c)]
        }
        return events
    }

    /// Tiled: starts new sums.
    package func clearGathered() throws { for region in regions { try region.gram.fill(0) } }

    /// Tiled: the losses and S from the gathered Gram matrices.
    @discardableResult
    package func finishGathered() throws -> [Event] { try (0..<active).flatMap { try lossAndS($0) } }

    /// The Gram matrix of the last capture (whole: this forward's; tiled: the gathered sum)
    /// becomes region `region`'s target times `weight`, or is added to it (several style
    /// images mixed with `--style-blend`).
    package func setTarget(region: Int = 0, weight: Float, adding: Bool) throws {
        try k.axpby(weight, regions[0].gram, adding ? 1 : 0, regions[region].target, count: c * c)
    }

    /// The style image's Gram matrix over the whole layer into `gramMatrix`, for `setTarget`
    /// (whole: no mask applies; tiled: this tile's owned share added to the sum, as loaded
    /// with no region).
    package func captureTarget(_ b: OpBuffers) throws -> [Event] {
        if tiled { return try gather(b.inputs[0]) }
        let masks = active
        active = 0
        defer { active = masks }
        return try computeGram(b.inputs[0], region: 0, into: regions[0].gram)
    }

    private func lossAndS(_ r: Int) throws -> [Event] {
        let cc = Float(c * c), region = regions[r]
        let area = active > 0 ? region.area : Float(n)
        return try k.sumSquaredDifference(region.gram, region.target, count: c * c, partials: losses.partials,
                                          losses: losses.buffer, slot: region.slot, scale: weight / cc)
            // ∂L/∂G = 2w(G − Gs)/C²; ∂L/∂F = (∂L/∂G + ∂L/∂Gᵀ) F / (C N) = S F with:
            + [k.scaledDifference(region.gram, region.target, into: region.s, count: c * c,
                                  scale: 4 * weight / cc / (Float(c) * area), accumulate: false)]
    }

    /// Whole: each region's Gram matrix, loss and S. Tiled: the tile's shares of the Gram matrices.
    package func forward(_ b: OpBuffers) throws -> [Event] {
        if tiled { return try gather(b.inputs[0]) }
        return try (0..<max(active, 1)).flatMap { r in try computeGram(b.inputs[0], region: r, into: regions[r].gram) + lossAndS(r) }
    }

    package func backward(_ b: OpBuffers) throws -> [Event] {
        let grad = b.gradInputs[0], acc = b.accumulate[0]
        var events = try recompute?.run(into: b.workspace!) ?? []
        let f = recompute == nil ? b.inputs[0] : b.workspace!
        // Normalised, the op's whole gradient is gathered first, then scaled into `grad`.
        let out = normalized?.work ?? grad, outAccumulates = normalized == nil && acc
        if active == 0 {
            events.append(try product(f, regions[0].s, into: out, accumulate: outAccumulates))
        } else if let work {
            // Each region: Sᵣ·F into the scratch buffer, times its mask's square, added.
            for r in 0..<active {
                events.append(try product(f, regions[r].s, into: work, accumulate: false))
                events.append(try k.maskMultiply(work, mask: regions[r].mask!.squared, into: work, channels: c, count: n, accumulate: false))
                events.append(try k.axpby(1, work, r > 0 || outAccumulates ? 1 : 0, out, count: c * n))
            }
        }
        if let normalized { events += try normalized.add(weight, into: grad, accumulate: acc) }
        return events
    }

    /// out (+)= S·F.
    private func product(_ f: Buffer, _ s: Buffer, into out: Buffer, accumulate: Bool) throws -> Event {
        try k.gramBackward(s: s, f: f, gradF: out, channels: c, count: n, accumulate: accumulate)
    }
}
