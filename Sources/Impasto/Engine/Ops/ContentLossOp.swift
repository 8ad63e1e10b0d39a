/// weight · mean((F − F_target)²) on one layer's activations (the content loss).
///
/// Tiled (`TiledObjective`): the loss counts only the features the tile owns (an ownership
/// mask of 0s and 1s, one value per pixel, the objective's), over the whole image's feature
/// count (`meanCount`), and the target holds the owned features only. Then
/// Σ own·(F − T)² = Σ (own·F − T)², and the gradient is own·2(F − T). The backward does not
/// need the forward's loss: it forms own·F itself.
package final class ContentLossOp: Op {
    package let name: String
    let k: Kernels
    let shape: TensorShape
    package var weight: Float
    let target: Buffer
    let losses: LossSlots
    package let slot: Int
    /// neural-style's -normalize_gradients: the gradient is divided by its L1 norm.
    let normalized: GradientNormalizer?
    /// Tiled: the current tile's ownership mask (see `loadTile`), and own·F.
    let ownership, owned: Buffer?
    /// The feature count the mean is over: this layer's, or the whole image's when tiled.
    let meanCount: Int

    package var backwardReadsInputs: Bool { true }
    package var backwardReadsOutput: Bool { false }
    package var ownedBytes: Int { target.bytes + (normalized?.bytes ?? 0) + (ownership?.bytes ?? 0) + (owned?.bytes ?? 0) }

    package init(name: String, kernels: Kernels, shape: TensorShape, weight: Float, losses: LossSlots,
                normalizeGradients: Bool = false, tiled: Bool = false, meanCount: Int? = nil) throws {
        precondition(!(tiled && normalizeGradients), "normalised gradients need the whole image's gradient")
        self.name = name
        k = kernels
        self.shape = shape
        self.weight = weight
        self.losses = losses
        self.meanCount = meanCount ?? shape.count
        slot = losses.claim(name)
        let ctx = kernels.context
        target = try ctx.buffer(floats: shape.count)
        try target.fill(0)  // on the device: no host array of the layer's size (nor while measuring)
        normalized = normalizeGradients ? try GradientNormalizer(kernels: kernels, count: shape.count) : nil
        ownership = tiled ? try ctx.buffer(floats: shape.h * shape.w) : nil
        owned = tiled ? try ctx.buffer(floats: shape.count) : nil
    }

    /// Tiled: the tile's ownership mask, built on the device (1 on its `owned` block, in this
    /// layer's coordinates), and with `whole` its target: the window at `origin` of the whole
    /// image's target map (C × `wholeHeight` × `wholeWidth`) times the ownership. Without
    /// `whole` the target is left as it is (a capture is about to overwrite it).
    package func loadTile(owned block: PixelRect, target whole: Buffer?, wholeHeight: Int, wholeWidth: Int,
                         origin: (x: Int, y: Int)) throws {
        guard let ownership else { preconditionFailure("\(name) is not tiled") }
        try k.tileMask(into: ownership, squared: nil, width: shape.w, height: shape.h, owned: block, user: nil)
        guard let whole else { return }
        let window = PixelRect(x0: origin.x, y0: origin.y, x1: origin.x + shape.w, y1: origin.y + shape.h)
        try k.crop(whole, channels: shape.c, height: wholeHeight, width: wholeWidth, window: window, into: target)
        try k.maskMultiply(target, mask: ownership, into: target, channels: shape.c, count: shape.h * shape.w, accumulate: false)
    }

    /// The target: the features (tiled: the owned ones) of the current input.
    package func captureTarget(_ b: OpBuffers) throws -> [Event] {
        if let ownership {
            return [try k.maskMultiply(b.inputs[0], mask: ownership, into: target, channels: shape.c, count: shape.h * shape.w, accumulate: false)]
        }
        if b.inputs[0].isHalf {  // the target stays fp32
            return [try k.axpby(1, b.inputs[0], 0, target, count: shape.count)]
        }
        try target.copy(from: b.inputs[0], count: shape.count)
        return []
    }

    package var targetValues: Buffer { target }

    /// F, or tiled own·F (into `owned`).
    private func features(_ f: Buffer) throws -> (Buffer, [Event]) {
        guard let owned, let ownership else { return (f, []) }
        return (owned, [try k.maskMultiply(f, mask: ownership, into: owned, channels: shape.c, count: shape.h * shape.w, accumulate: false)])
    }

    package func forward(_ b: OpBuffers) throws -> [Event] {
        let (f, events) = try features(b.inputs[0])
        return try events + k.sumSquaredDifference(f, target, count: shape.count, partials: losses.partials,
                                                   losses: losses.buffer, slot: slot, scale: weight / Float(meanCount))
    }

    package func backward(_ b: OpBuffers) throws -> [Event] {
        if let normalized {
            let e = try k.scaledDifference(b.inputs[0], target, into: normalized.work, count: shape.count,
                                           scale: 2 / Float(shape.count), accumulate: false)
            return try [e] + normalized.add(weight, into: b.gradInputs[0], accumulate: b.accumulate[0])
        }
        let (f, events) = try features(b.inputs[0])
        return events + [try k.scaledDifference(f, target, into: b.gradInputs[0], count: shape.count,
                                                scale: 2 * weight / Float(meanCount), accumulate: b.accumulate[0])]
    }
}
