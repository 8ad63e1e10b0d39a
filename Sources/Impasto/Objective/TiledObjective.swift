import Foundation

/// Style transfer of an image too big for the device, in the tiles of a `TilePlan`, with the
/// same losses and gradient as the whole image (up to rounding): the image and its gradient
/// are whole-image buffers; one crop-sized `LossNetwork` runs over each tile in turn. An
/// evaluation is two sweeps:
///
/// 1. forward over every tile, each adding its owned features' share to each style layer's
///    Gram matrix and its content term; the gathered Gram matrices give the style loss and S;
/// 2. the network's features and backward over every tile with that S, each adding its
///    crop's gradient into the image's gradient (halo pixels get the contributions of
///    neighbouring tiles' features: the sum is the whole image's gradient, so there is nothing
///    to blend and no seam). No loss is computed again.
///
/// TV is computed on the whole image. The style targets are the whole style image's Gram
/// matrices (gathered the same way); the content targets are whole-image maps on the device,
/// one per content layer, and each tile takes its owned block. Each tile's masks (ownership,
/// times the user's mask for the style losses) are built on the device as it is loaded, from
/// its rectangles and the user's whole-layer masks: nothing crosses to the host per tile.
package final class TiledObjective: Objective {
    package let width, height: Int
    package let context: CLContext
    package let plan: TilePlan
    package let config: LossConfig
    package let kernels: Kernels
    /// The crop-sized network every tile runs through.
    package let network: LossNetwork
    /// The whole picture: X, its gradient, staging.
    package let image: OptimizedImage
    let losses: LossSlots
    let tvSlot: Int
    var tvWeight: Float
    /// The user's mask of one style region at a whole layer's size, and its sum.
    private struct UserMask {
        let values: Buffer
        var area: Float = 0
    }
    /// Per style op, per region: the user's masks (none when the objective holds no regions).
    private var userMasks: [[UserMask]]
    /// Whether `setMasks` gave masks: tiles are loaded with them for an evaluation.
    private var masked = false
    /// Per content op: the whole image's target map (C × H/s × W/s); zeros until `setContent`.
    private let contentTargets: [Buffer]
    /// The tiles' loss vectors summed on the device in sweep 1 (the content slots are read
    /// from it): no tile's losses cross to the host.
    private let tileLossSums: Buffer

    package var styleOps: [StyleLossOp] { network.styleOps }

    /// `masks`: the style regions `setMasks` will set (0: the one unmasked target).
    package init(context: CLContext, weights: VGGWeights, plan: TilePlan, config: LossConfig = LossConfig(), masks: Int = 0) throws {
        precondition(!config.normalizeGradients, "normalised gradients need the whole image's gradient")
        try config.check(on: context.device)
        width = plan.width
        height = plan.height
        self.context = context
        self.plan = plan
        self.config = config
        kernels = try Kernels(context: context)
        let n = 3 * plan.cropWidth * plan.cropHeight
        let cropX = try context.buffer(floats: n), cropGrad = try context.buffer(floats: n)
        for b in [cropX, cropGrad] { try b.fill(0) }
        network = try LossNetwork(kernels: kernels, weights: weights, width: plan.cropWidth, height: plan.cropHeight,
                                  config: config, input: cropX, inputGrad: cropGrad, masks: masks, tileOf: (plan.width, plan.height))
        image = try OptimizedImage(kernels: kernels, width: width, height: height)
        losses = try LossSlots(context: context, capacity: 1)
        tvSlot = losses.claim("tv")
        tvWeight = LossWeights.seed.tv
        let (w, h) = (width, height)
        contentTargets = try zip(network.contentOps, network.contentModules).map { op, module in
            let s = VGG19.scale(at: module)
            return try context.buffer(floats: op.shape.c * (h / s) * (w / s)).zeroed()
        }
        tileLossSums = try context.buffer(floats: network.losses.capacity)
        userMasks = try network.styleModules.map { module in
            let s = VGG19.scale(at: module)
            return try (0..<masks).map { _ in UserMask(values: try context.buffer(floats: (w / s) * (h / s))) }
        }
    }

    /// Device bytes: the network's with its crop and gradient, the image's, the user's masks
    /// and the content targets.
    package var deviceBytes: Int {
        network.deviceBytes + network.input.bytes + network.inputGrad.bytes + image.bytes + losses.buffer.bytes + losses.partials.bytes
            + userMasks.joined().reduce(0) { $0 + $1.values.bytes }
            + contentTargets.reduce(0) { $0 + $1.bytes } + tileLossSums.bytes
    }

    /// A tile's crop window at a layer of `scale` (inside the whole layer map: see `TilePlan`).
    private func window(_ t: TilePlan.Tile, scale s: Int) -> PixelRect {
        let x0 = t.crop.x0 / s, y0 = t.crop.y0 / s
        return PixelRect(x0: x0, y0: y0, x1: x0 + plan.cropWidth / s, y1: y0 + plan.cropHeight / s)
    }

    // MARK: tiles

    /// Loads tile `j`: its crop of X into the network, every loss op's masks (for an
    /// evaluation, times the user's mask) and, for an evaluation, the content target blocks,
    /// all from buffers already on the device.
    private func load(_ j: Int, evaluating: Bool) throws {
        let t = plan.tiles[j]
        try kernels.crop(image.x, channels: 3, height: height, width: width, window: t.crop, into: network.input)
        for (k, (op, module)) in zip(styleOps, network.styleModules).enumerated() {
            let s = VGG19.scale(at: module), w = window(t, scale: s)
            let regions = evaluating && masked ? userMasks[k].map { user in
                StyleLossOp.TileRegion(source: TileMaskSource(values: user.values, width: width / s, height: height / s, x0: w.x0, y0: w.y0),
                                       area: user.area)
            } : []
            try op.loadTile(owned: plan.owned(t, scale: s), regions: regions, wholeArea: Float((height / s) * (width / s)))
        }
        for (k, (op, module)) in zip(network.contentOps, network.contentModules).enumerated() {
            let s = VGG19.scale(at: module), w = window(t, scale: s)
            try op.loadTile(owned: plan.owned(t, scale: s), target: evaluating ? contentTargets[k] : nil,
                            wholeHeight: height / s, wholeWidth: width / s, origin: (w.x0, w.y0))
        }
    }

    /// Sweep 1 over the current X: the Gram matrices gathered (with `capture`, as style
    /// targets), and otherwise the tiles' loss vectors summed into `tileLossSums`.
    private func gather(capture: Bool) throws {
        for op in styleOps { try op.clearGathered() }
        if !capture { try tileLossSums.fill(0) }
        let losses = network.losses
        for j in plan.tiles.indices {
            try load(j, evaluating: !capture)
            if capture {
                try network.captureStyleGrams()
            } else {
                try network.executor.forward()
                try kernels.axpby(1, losses.buffer, 1, tileLossSums, count: losses.names.count)
            }
        }
    }

    // MARK: Objective

    package func captureStyles(_ styles: [StyleSource]) throws {
        try StyleSource.blend(styles, into: styleOps) { picture in
            try upload(picture)
            try gather(capture: true)
        }
    }

    /// Content targets from a picture of this size, gathered tile by tile on the device (each
    /// tile's owned features added into the zeroed whole map); X starts there.
    package func setContent(_ picture: RGBImage) throws {
        try upload(picture)
        let targets = contentTargets
        for b in targets { try b.fill(0) }
        for j in plan.tiles.indices {
            try load(j, evaluating: false)
            try network.captureContent()
            for (k, (op, module)) in zip(network.contentOps, network.contentModules).enumerated() {
                let s = VGG19.scale(at: module)
                try kernels.addTile(op.targetValues, channels: op.shape.c, into: targets[k], height: height / s, width: width / s,
                                    window: window(plan.tiles[j], scale: s))
            }
        }
    }

    /// The user's masks at each style layer's whole size, on the device; each tile cuts its
    /// windows as it is loaded. None: ownership alone.
    package func setMasks(_ masks: [RGBImage]) throws {
        let held = userMasks.first?.count ?? 0
        guard masks.isEmpty || masks.count == held else { throw StyleTransferError("this objective holds \(held) masks, not \(masks.count)") }
        for (k, module) in network.styleModules.enumerated() {
            let s = VGG19.scale(at: module)
            for (r, mask) in masks.enumerated() {
                let values = WholeImageObjective.maskValues(mask, width: width / s, height: height / s)
                try userMasks[k][r].values.write(values)
                userMasks[k][r].area = values.reduce(0, +)
            }
        }
        masked = !masks.isEmpty
    }

    package func setWeights(_ w: LossWeights) {
        network.setWeights(w)
        tvWeight = w.tv
    }

    package func evaluate() throws -> LossTerms { try startEvaluation().wait() }

    /// Both sweeps and TV enqueued; the terms come from three reads the host waits for only
    /// when it needs them (the style slots as `finishGathered` left them, the tiles' content
    /// sums, TV).
    package func startEvaluation() throws -> PendingLosses {
        try gather(capture: false)
        for op in styleOps { try op.finishGathered() }
        let count = network.losses.names.count
        let gathered = try network.losses.buffer.readLater(count: count)

        let x = image.x, grad = image.grad
        try grad.fill(0)
        for (j, t) in plan.tiles.enumerated() {
            try load(j, evaluating: true)
            try network.forwardFeatures()
            try network.executor.backward()
            try kernels.addTile(network.inputGrad, channels: 3, into: grad, height: height, width: width, window: t.crop)
        }
        try kernels.tv(x, channels: 3, height: height, width: width, weight: tvWeight,
                       partials: losses.partials, losses: losses.buffer, slot: tvSlot)
        try kernels.tvBackward(x, grad: grad, channels: 3, height: height, width: width, weight: tvWeight, accumulate: true)
        let reads = [gathered, try tileLossSums.readLater(count: count), try losses.buffer.readLater(count: losses.names.count)]
        let (styleOps, contentOps, tvSlot) = (styleOps, network.contentOps, tvSlot)
        return PendingLosses(reads) { v in
            LossTerms(content: contentOps.reduce(0) { $0 + v[1][$1.slot] },
                      style: styleOps.reduce(0) { $0 + $1.slots.reduce(0) { $0 + v[0][$1] } }, tv: v[2][tvSlot])
        }
    }
}
