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
///
/// With `kind == .w2` the same regions, masks and gathering carry the W2 loss instead
/// (`StyleLossKind`): each region also keeps the mean μ of the last forward, its target's
/// mean, the shift δ = κ·tr Σₛ/C (`Kernels.w2Shift`) both covariances get on every channel
/// (it bounds their condition numbers, so that fp32 Newton–Schulz converges; the distance
/// stays 0 exactly at a match), and A = √(Σₛ + δI), computed once per target, lazily. Per
/// region, with Σ′ = C·gram − μμᵀ + δI and M = AΣ′A:
///   L = w/C · (|μ − μₛ|² + tr Σₛ′ + tr Σ′ − 2 tr √M)
///   ∂L/∂Σ = G = w/C · (I − A M^(-1/2) A)
///   ∂L/∂F = m ⊙ (S·F + b 1ᵀ), S = 2G/Σm, b = 2w(μ − μₛ)/(C Σm) − S μ
/// √M and M^(-1/2) come from coupled Newton–Schulz iterations (`Kernels.squareRoot`), C×C
/// products on the device. A W2 region weights each pixel by its mask m: μ = Σ m F / Σm and
/// Σ = Σ m F Fᵀ / Σm − μμᵀ, a true covariance however soft the mask (F⊙m in both would not
/// be one), so the op's mask buffers hold √m and m where Gram's hold m and m² (unmasked,
/// m = 1).
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
        /// W2 only.
        let w2: W2Region?
    }
    /// A region's W2 state: the mean of the last forward (tiled, the sum gathered so far),
    /// the target's mean, shift δ and root A, and b (the per-channel part of ∂L/∂F).
    private struct W2Region {
        let mean, targetMean, shift, targetRoot, b: Buffer
        init(context: CLContext, channels c: Int) throws {
            mean = try context.buffer([Float](repeating: 0, count: c))
            targetMean = try context.buffer([Float](repeating: 0, count: c))
            shift = try context.buffer(floats: 1)
            targetRoot = try context.buffer(floats: c * c)
            b = try context.buffer(floats: c)
        }
        var bytes: Int { mean.bytes + targetMean.bytes + shift.bytes + targetRoot.bytes + b.bytes }
    }
    /// The W2 workspace the op's regions share, one after another: Σ′, two products, the
    /// square roots' matrices and the means' partial sums.
    private struct W2Work {
        let cov, p, m: Buffer
        let roots: Kernels.SquareRootWork
        let meanScratch: Buffer
        var bytes: Int { cov.bytes + p.bytes + m.bytes + roots.bytes + meanScratch.bytes }
    }
    package let kind: StyleLossKind
    private let w2: W2Work?
    /// W2: whether every region's target root is that of its current target.
    private var rootsCurrent = false
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
        regions.reduce(0) { $0 + $1.target.bytes + $1.gram.bytes + $1.s.bytes + ($1.mask.map { $0.values.bytes + $0.squared.bytes } ?? 0)
                            + ($1.w2?.bytes ?? 0) }
            + scratch.bytes + (work?.bytes ?? 0) + (normalized?.bytes ?? 0) + (w2?.bytes ?? 0)
    }

    /// `masks`: how many masked regions the op holds, each with its own target (0: one target
    /// over the whole layer). A tiled op always has masks: a tile's ownership at least.
    package init(name: String, kernels: Kernels, shape: TensorShape, weight: Float, losses: LossSlots, kind: StyleLossKind = .gram,
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
        self.kind = kind
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
                   slot: losses.claim(masks > 1 ? "\(name).\(r)" : name),
                   w2: kind == .w2 ? try W2Region(context: ctx, channels: c) : nil)
        }
        work = withMasks ? try ctx.buffer(floats: c * n) : nil
        scratch = try ctx.buffer(floats: Kernels.gramScratchCount(c: c, n: n))
        w2 = kind == .w2 ? W2Work(cov: try ctx.buffer(floats: c * c), p: try ctx.buffer(floats: c * c), m: try ctx.buffer(floats: c * c),
                                  roots: try Kernels.SquareRootWork(context: ctx, channels: c, partials: losses.partials),
                                  meanScratch: try ctx.buffer(floats: Kernels.meanScratchCount(c: c, n: n))) : nil
        self.recompute = recompute
    }

    /// The loss slots this op's terms are in now (one per region in use).
    package var slots: [Int] { regions.prefix(max(active, 1)).map(\.slot) }

    /// The Gram matrix of the last forward or capture (region 0's; tiled, the sum gathered so
    /// far), and each region's target.
    package var gramMatrix: Buffer { regions[0].gram }
    package var targetGrams: [Buffer] { regions.map(\.target) }
    package var targetGram: Buffer { regions[0].target }
    /// W2: the mean of the last forward or capture (region 0's), and each region's target mean.
    package var meanVector: Buffer? { regions[0].w2?.mean }
    package var targetMeans: [Buffer] { regions.compactMap { $0.w2?.targetMean } }

    /// Every region's target statistics on the host (its Gram matrix, and W2's mean), for a
    /// warm run to keep and give back with `setTargetValues`.
    package func targetValues() throws -> [[[Float]]] {
        try regions.map { r in try [r.target.read()] + (r.w2.map { [try $0.targetMean.read()] } ?? []) }
    }

    package func setTargetValues(_ values: [[[Float]]]) throws {
        precondition(values.count == regions.count, "\(name) holds \(regions.count) targets, not \(values.count)")
        for (region, v) in zip(regions, values) {
            try region.target.write(v[0])
            if let w2 = region.w2 { try w2.targetMean.write(v[1]) }
        }
        rootsCurrent = false
    }

    /// Region `region`'s target from region 0 of `other`, the same layer of a model of another
    /// size (a style measured at its own scale).
    package func copyTarget(region: Int, from other: StyleLossOp) throws {
        precondition(other.kind == kind && other.c == c, "\(name): targets of another kind or width")
        try regions[region].target.copy(from: other.regions[0].target)
        if let mine = regions[region].w2, let theirs = other.regions[0].w2 { try mine.targetMean.copy(from: theirs.targetMean) }
        rootsCurrent = false
    }

    /// Whole image: sets the masks (one per region, each this layer's height × width pixels in
    /// [0, 1]), or with none goes back to the plain loss over the whole layer.
    package func setMasks(_ masks: [[Float]]) throws {
        precondition(!tiled, "\(name): a tile's masks are built on the device (`loadTile`)")
        guard masks.isEmpty || masks.count == maskCount else {
            throw StyleTransferError("\(name) holds \(maskCount) masks, not \(masks.count)")
        }
        for (r, values) in masks.enumerated() {
            precondition(values.count == n, "mask has \(values.count) values for a \(layerWidth)x\(layerHeight) layer")
            // What F is multiplied by, and its square (see the type's comment for W2's).
            let factor = kind == .w2 ? values.map { $0.squareRoot() } : values
            try regions[r].mask!.values.write(factor)
            try regions[r].mask!.squared.write(factor.map { $0 * $0 })
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
            try k.tileMask(into: mask.values, squared: mask.squared, width: layerWidth, height: layerHeight, owned: owned, user: user.source,
                           root: kind == .w2)
            regions[r].area = max(user.area, 1e-6)
        }
        active = users.count
    }

    /// Region r's statistics of F: its Gram matrix into `g` and, for W2, its mean (added to
    /// the mean when `addingMean`, as tiles gather it; masked, from F⊙√m⊙√m).
    private func computeStatistics(_ f: Buffer, region r: Int, gramInto g: Buffer, addingMean: Bool = false) throws -> [Event] {
        var events: [Event] = [], x = f, area = Float(n)
        if active > 0, let (mask, _) = regions[r].mask, let work {
            events.append(try k.maskMultiply(f, mask: mask, into: work, channels: c, count: n, accumulate: false))
            (x, area) = (work, regions[r].area)
        }
        events += try k.gram(x, into: g, scratch: scratch, channels: c, count: n, scale: 1 / (Float(c) * area))
        if let w2, let state = regions[r].w2 {
            if x === work { events.append(try k.maskMultiply(x, mask: regions[r].mask!.values, into: x, channels: c, count: n, accumulate: false)) }
            events += try k.channelMean(x, into: state.mean, scratch: w2.meanScratch, channels: c, count: n,
                                        scale: 1 / area, accumulate: addingMean)
        }
        return events
    }

    /// Tiled: this tile's share of each region's statistics, added to their sums (S is free
    /// until the sum is finished, so it holds the Gram share).
    private func gather(_ f: Buffer) throws -> [Event] {
        var events: [Event] = []
        for r in 0..<active {
            let region = regions[r]
            events += try computeStatistics(f, region: r, gramInto: region.s, addingMean: true)
                + [k.axpby(1, region.s, 1, region.gram, count: c * c)]
        }
        return events
    }

    /// Tiled: starts new sums.
    package func clearGathered() throws {
        for region in regions {
            try region.gram.fill(0)
            try region.w2?.mean.fill(0)
        }
    }

    /// Tiled: the losses and S from the gathered statistics.
    @discardableResult
    package func finishGathered() throws -> [Event] { try updateRoots() + (0..<active).flatMap { try lossAndS($0) } }

    /// The statistics of the last capture (whole: this forward's; tiled: the gathered sums)
    /// become region `region`'s target times `weight`, or are added to it (several style
    /// images mixed with `--style-blend`: for W2, a Gaussian fitted to the mixture).
    package func setTarget(region: Int = 0, weight: Float, adding: Bool) throws {
        try k.axpby(weight, regions[0].gram, adding ? 1 : 0, regions[region].target, count: c * c)
        if let from = regions[0].w2, let to = regions[region].w2 {
            try k.axpby(weight, from.mean, adding ? 1 : 0, to.targetMean, count: c)
        }
        rootsCurrent = false
    }

    /// The style image's statistics over the whole layer into `gramMatrix` (and the mean),
    /// for `setTarget` (whole: no mask applies; tiled: this tile's owned share added to the
    /// sums, as loaded with no region).
    package func captureTarget(_ b: OpBuffers) throws -> [Event] {
        if tiled { return try gather(b.inputs[0]) }
        let masks = active
        active = 0
        defer { active = masks }
        return try computeStatistics(b.inputs[0], region: 0, gramInto: regions[0].gram)
    }

    private func lossAndS(_ r: Int) throws -> [Event] {
        if kind == .w2 { return try w2LossAndS(r) }
        let cc = Float(c * c), region = regions[r]
        let area = active > 0 ? region.area : Float(n)
        return try k.sumSquaredDifference(region.gram, region.target, count: c * c, partials: losses.partials,
                                          losses: losses.buffer, slot: region.slot, scale: weight / cc)
            // ∂L/∂G = 2w(G − Gs)/C²; ∂L/∂F = (∂L/∂G + ∂L/∂Gᵀ) F / (C N) = S F with:
            + [k.scaledDifference(region.gram, region.target, into: region.s, count: c * c,
                                  scale: 4 * weight / cc / (Float(c) * area), accumulate: false)]
    }

    /// W2: each region's shift δ and target root A = √(Σₛ + δI), when a target changed since
    /// the last.
    private func updateRoots() throws -> [Event] {
        guard let w2, !rootsCurrent else { return [] }
        var events: [Event] = []
        for region in regions {
            let state = region.w2!
            events += [try k.covariance(gram: region.target, mean: state.targetMean, into: w2.cov, channels: c),
                       try k.w2TargetShift(w2.cov, into: state.shift, channels: c),
                       try k.addShift(w2.cov, shift: state.shift, into: w2.cov, channels: c)]
            let roots = try k.squareRoot(of: w2.cov, work: w2.roots, channels: c)
            events += roots.events
            events.append(try k.scale(roots.y, by: w2.roots.scalars, slot: 0, power: 0.25, into: state.targetRoot, channels: c, symmetrize: true))
        }
        rootsCurrent = true
        return events
    }

    /// W2: region r's loss, S and b from its gathered Gram matrix and mean (see the type's
    /// comment for the formulas).
    private func w2LossAndS(_ r: Int) throws -> [Event] {
        let region = regions[r], state = region.w2!, w2 = w2!, a = state.targetRoot
        let area = active > 0 ? region.area : Float(n)
        var events = [try k.covariance(gram: region.gram, mean: state.mean, into: w2.cov, channels: c),
                      try k.addShift(w2.cov, shift: state.shift, into: w2.cov, channels: c),
                      // Σ′ and A are exactly symmetric, so each is its own transpose.
                      try k.matmul(transposed: w2.cov, a, into: w2.p, channels: c),   // Σ′ A
                      try k.matmul(transposed: a, w2.p, into: w2.m, channels: c)]     // M = A Σ′ A
        let roots = try k.squareRoot(of: w2.m, work: w2.roots, channels: c, traceCorrection: true)
        let scale = 2 * weight / (Float(c) * area)
        events += roots.events
        events += [try k.w2Loss(mean: state.mean, targetMean: state.targetMean, cov: w2.cov, targetGram: region.target, shift: state.shift,
                                roots: roots, work: w2.roots, losses: losses.buffer, slot: region.slot, channels: c, weight: weight),
                   try k.matmul(transposed: roots.zT, a, into: w2.p, channels: c),     // Z A
                   try k.matmul(transposed: a, w2.p, into: w2.cov, channels: c),       // A Z A (Σ′ is spent)
                   try k.w2Gradient(q: w2.cov, work: w2.roots, into: region.s, channels: c, scale: scale),
                   try k.w2MeanGradient(mean: state.mean, targetMean: state.targetMean, s: region.s, into: state.b, channels: c,
                                        meanScale: scale)]
        return events
    }

    /// Whole: each region's statistics, loss and S. Tiled: the tile's shares of the statistics.
    package func forward(_ b: OpBuffers) throws -> [Event] {
        if tiled { return try gather(b.inputs[0]) }
        return try updateRoots() + (0..<max(active, 1)).flatMap { r in
            try computeStatistics(b.inputs[0], region: r, gramInto: regions[r].gram) + lossAndS(r)
        }
    }

    package func backward(_ b: OpBuffers) throws -> [Event] {
        let grad = b.gradInputs[0], acc = b.accumulate[0]
        var events = try recompute?.run(into: b.workspace!) ?? []
        let f = recompute == nil ? b.inputs[0] : b.workspace!
        // Normalised, the op's whole gradient is gathered first, then scaled into `grad`.
        let out = normalized?.work ?? grad, outAccumulates = normalized == nil && acc
        if active == 0 {
            events.append(try k.gramBackward(s: regions[0].s, f: f, gradF: out, channels: c, count: n, accumulate: outAccumulates,
                                             bias: regions[0].w2?.b))
        } else if let work {
            // Each region: Sᵣ·F into the scratch buffer, times its mask's square (W2: plus
            // bᵣ times it), added.
            for r in 0..<active {
                let mask = regions[r].mask!
                events.append(try product(f, regions[r].s, into: work, accumulate: false))
                events.append(try k.maskMultiply(work, mask: mask.squared, into: work, channels: c, count: n, accumulate: false))
                if let state = regions[r].w2 {
                    events.append(try k.addChannelOuter(state.b, mask: mask.squared, into: work, channels: c, count: n))
                }
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
