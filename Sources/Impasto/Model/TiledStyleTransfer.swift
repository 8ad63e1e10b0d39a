/// Style transfer of an image too big for the device, in the tiles of a `TilePlan`, with the
/// same losses and gradient as the whole image (up to rounding): the image, its gradient and
/// Adam's state are whole-image buffers; one crop-sized network (a tiled `StyleTransfer`)
/// runs over each tile in turn. An evaluation is two sweeps:
///
/// 1. forward over every tile, each adding its owned features' share to each style layer's
///    Gram matrix and its content term; the gathered Gram matrices give the style loss and S;
/// 2. forward and backward over every tile with that S, each adding its crop's gradient
///    into the image's gradient (halo pixels get the contributions of neighbouring tiles'
///    features: the sum is the whole image's gradient, so there is nothing to blend and no seam).
///
/// TV is computed on the whole image. The style targets are the whole style image's Gram
/// matrices (gathered the same way); the content targets are kept on the host, one whole-image
/// map per content layer, and each tile gets its owned block.
public final class TiledStyleTransfer: Stylizer {
    public let width, height: Int
    public let context: CLContext
    public let plan: TilePlan
    public let config: LossConfig
    public let kernels: Kernels
    /// The crop-sized network every tile runs through.
    let tile: StyleTransfer
    /// The whole picture: X, its gradient, Adam's state, staging.
    let parameter: OptimizedImage
    public var x: Buffer { parameter.x }
    public var grad: Buffer { parameter.grad }
    let losses: LossSlots
    let tvSlot: Int
    var tvWeight: Float
    /// Per content op: the whole image's target map (C × H/s × W/s); empty (zeros) until `setContent`.
    private var contentTargets: [[Float]]
    /// Per style op: the user's mask at the whole image's layer size, or nil.
    private var masks: [[Float]?]

    public var styleOps: [StyleLossOp] { tile.styleOps }

    public init(context: CLContext, weights: VGGWeights, plan: TilePlan, config: LossConfig = LossConfig()) throws {
        precondition(!config.normalizeGradients, "normalised gradients need the whole image's gradient")
        width = plan.width
        height = plan.height
        self.context = context
        self.plan = plan
        self.config = config
        tile = try StyleTransfer(context: context, weights: weights, width: plan.cropWidth, height: plan.cropHeight,
                                 config: config, tiled: true)
        kernels = tile.kernels
        parameter = try OptimizedImage(kernels: kernels, width: width, height: height)
        losses = try LossSlots(context: context, capacity: 1)
        tvSlot = losses.claim("tv")
        tvWeight = config.tvWeight
        contentTargets = tile.contentOps.map { _ in [] }
        masks = tile.styleOps.map { _ in nil }
        for (op, module) in zip(tile.contentOps, tile.contentModules) { op.meanCount = contentCount(op, module) }
    }

    // MARK: tiles

    private enum Purpose { case gatherStyle, captureContent, loss }

    /// Loads tile `t`: its crop of X into the network, and every loss op's ownership (times the
    /// user's mask, for the style losses of an evaluation) and content target block.
    private func load(_ t: TilePlan.Tile, for purpose: Purpose) throws {
        try kernels.crop(x, channels: 3, height: height, width: width, window: t.crop, into: tile.x)
        for (k, (op, module)) in zip(tile.styleOps, tile.styleModules).enumerated() {
            let s = VGG19.scale(at: module)
            var mask = plan.ownershipMask(t, scale: s)
            var area = Float((height / s) * (width / s))
            if purpose == .loss, let user = masks[k] {
                multiply(&mask, byWindowOf: user, layerWidth: width / s, tile: t, scale: s)
                area = user.reduce(0, +)
            }
            try op.setMask(mask, area: area)
        }
        for (k, (op, module)) in zip(tile.contentOps, tile.contentModules).enumerated() {
            let s = VGG19.scale(at: module)
            let own = plan.ownershipMask(t, scale: s)
            let target = purpose == .loss && !contentTargets[k].isEmpty
                ? ownedBlock(of: contentTargets[k], channels: op.shape.c, tile: t, scale: s)
                : [Float](repeating: 0, count: op.shape.count)
            try op.setTile(ownership: own, target: target)
        }
    }

    /// The whole image's feature count at a content layer.
    private func contentCount(_ op: ContentLossOp, _ module: Int) -> Int {
        op.shape.c * (height / VGG19.scale(at: module)) * (width / VGG19.scale(at: module))
    }

    /// mask ⊙= the whole-image layer map's window under the tile's crop.
    private func multiply(_ mask: inout [Float], byWindowOf whole: [Float], layerWidth gw: Int, tile t: TilePlan.Tile, scale s: Int) {
        let lw = plan.cropWidth / s, lh = plan.cropHeight / s
        let ox = t.crop.x0 / s, oy = t.crop.y0 / s
        for y in 0..<lh { for x in 0..<lw { mask[y * lw + x] *= whole[(oy + y) * gw + ox + x] } }
    }

    /// The crop-sized C-channel map that holds the tile's owned block of a whole-image map, 0 elsewhere.
    private func ownedBlock(of whole: [Float], channels c: Int, tile t: TilePlan.Tile, scale s: Int) -> [Float] {
        let lw = plan.cropWidth / s, lh = plan.cropHeight / s, gw = width / s, gh = height / s
        let ox = t.crop.x0 / s, oy = t.crop.y0 / s
        let r = plan.owned(t, scale: s)
        var out = [Float](repeating: 0, count: c * lh * lw)
        for ch in 0..<c {
            for y in r.y0..<r.y1 {
                let src = (ch * gh + oy + y) * gw + ox, dst = (ch * lh + y) * lw
                for x in r.x0..<r.x1 { out[dst + x] = whole[src + x] }
            }
        }
        return out
    }

    /// The reverse: the owned block of a crop-sized map written into the whole-image map.
    private func storeOwnedBlock(_ block: [Float], into whole: inout [Float], channels c: Int, tile t: TilePlan.Tile, scale s: Int) {
        let lw = plan.cropWidth / s, lh = plan.cropHeight / s, gw = width / s, gh = height / s
        let ox = t.crop.x0 / s, oy = t.crop.y0 / s
        let r = plan.owned(t, scale: s)
        for ch in 0..<c {
            for y in r.y0..<r.y1 {
                let dst = (ch * gh + oy + y) * gw + ox, src = (ch * lh + y) * lw
                for x in r.x0..<r.x1 { whole[dst + x] = block[src + x] }
            }
        }
    }

    /// Sweep 1 over the current X: the Gram matrices gathered (with `capture`, as style
    /// targets), and with losses the sum of the tiles' content terms.
    private func gather(capture: Bool) throws -> Float {
        for op in tile.styleOps {
            op.tilePhase = .gather
            try op.clearGathered()
        }
        var content: Float = 0
        for t in plan.tiles {
            try load(t, for: capture ? .gatherStyle : .loss)
            if capture {
                try tile.executor.forward(capturing: { $0 is StyleLossOp })
            } else {
                try tile.executor.forward()
                let v = try tile.lossValues()
                content += tile.contentOps.reduce(0) { $0 + v[$1.slot] }
            }
        }
        return content
    }

    // MARK: Stylizer

    public func captureStyles(_ styles: [(RGBImage, Float)]) throws {
        let total = styles.reduce(Float(0)) { $0 + $1.1 }
        for (k, (picture, weight)) in styles.enumerated() {
            try upload(picture)
            _ = try gather(capture: true)
            for op in tile.styleOps { try op.setTarget(weight: weight / total, adding: k > 0) }
        }
    }

    public func setContent(_ picture: RGBImage) throws {
        try upload(picture)
        contentTargets = zip(tile.contentOps, tile.contentModules).map { [Float](repeating: 0, count: contentCount($0, $1)) }
        for t in plan.tiles {
            try load(t, for: .captureContent)
            try tile.executor.forward(capturing: { $0 is ContentLossOp })
            for (k, (op, module)) in zip(tile.contentOps, tile.contentModules).enumerated() {
                try storeOwnedBlock(op.targetValues.read(count: op.shape.count), into: &contentTargets[k], channels: op.shape.c,
                                    tile: t, scale: VGG19.scale(at: module))
            }
        }
        try parameter.resetAdam()
    }

    public func setMask(_ mask: RGBImage?) throws {
        masks = tile.styleModules.map { module in
            let s = VGG19.scale(at: module)
            return mask.map { StyleTransfer.maskValues($0, width: width / s, height: height / s) }
        }
    }

    public func setWeights(content: Float, style: Float, tv: Float) {
        tile.setWeights(content: content, style: style, tv: tv)
        tvWeight = tv
    }

    public func setImage(_ image: [Float]) throws { try parameter.set(image) }
    public func upload(_ picture: RGBImage) throws { try parameter.upload(picture) }
    public func picture() throws -> RGBImage { try parameter.picture() }

    public func evaluate() throws -> LossTerms {
        let content = try gather(capture: false)
        for op in tile.styleOps { try op.finishGathered() }
        let gathered = try tile.lossValues()
        let style = tile.styleOps.reduce(0) { $0 + gathered[$1.slot] }

        try grad.fill(0)
        for op in tile.styleOps { op.tilePhase = .apply }
        for t in plan.tiles {
            try load(t, for: .loss)
            try tile.executor.forward()
            try tile.executor.backward()
            try kernels.addTile(tile.grad, channels: 3, into: grad, height: height, width: width, window: t.crop)
        }
        try kernels.tv(x, channels: 3, height: height, width: width, weight: tvWeight,
                       partials: losses.partials, losses: losses.buffer, slot: tvSlot)
        try kernels.tvBackward(x, grad: grad, channels: 3, height: height, width: width, weight: tvWeight, accumulate: true)
        let tv = try losses.read()[tvSlot]
        return LossTerms(content: content, style: style, tv: tv)
    }

    public func step(lr: Float) throws -> LossTerms {
        let terms = try evaluate()
        try parameter.adamStep(lr: lr)
        return terms
    }

    public func adamState() throws -> AdamState { try parameter.adamState() }
    public func restoreAdam(_ state: AdamState) throws { try parameter.restoreAdam(state) }
}
