import Foundation

/// Video (Ruder et al. 2016): what a frame is held close to, at the output size. The earlier
/// stylized frames warped to this one, folded into one picture and one weight per pixel (the
/// host folds them: with Ruder's long-term weights each pixel takes one earlier frame).
public struct TemporalTarget: Equatable, Sendable {
    /// The target picture (RGB in [0, 1]).
    public package(set) var picture: RGBImage
    /// Per pixel, in [0, 1]: how much the target counts there (0 at disocclusions and motion
    /// boundaries).
    public package(set) var weights: [Float]
    /// The loss weight.
    public var weight: Float

    package init(picture: RGBImage, weights: [Float], weight: Float) {
        precondition(weights.count == picture.width * picture.height, "one temporal weight per pixel")
        self.picture = picture
        self.weights = weights
        self.weight = weight
    }

    /// The target at another scale of a coarse-to-fine run.
    package func resized(width w: Int, height h: Int) -> TemporalTarget {
        if w == picture.width && h == picture.height { return self }
        let plane = RGBImage(width: picture.width, height: picture.height, pixels: weights.flatMap { [$0, $0, $0] }).resized(width: w, height: h)
        return TemporalTarget(picture: picture.resized(width: w, height: h),
                              weights: stride(from: 0, to: plane.pixels.count, by: 3).map { plane.pixels[$0] }, weight: weight)
    }
}

/// An objective plus the temporal loss weight / (3HW) · Σ c(p) (x − t)² on X itself (per pixel,
/// like TV: whole or tiled, the base objective's gradient gets its term added after it).
package final class TemporalObjective: Objective {
    package let base: Objective
    let target, weights: Buffer
    let losses: LossSlots
    let slot: Int
    public var weight: Float

    /// Device bytes the temporal term holds for an image of `pixels` pixels.
    package static func bytes(pixels: Int) -> Int { 4 * (4 * pixels + 1 + Kernels.partialCount) }

    package init(base: Objective, target: TemporalTarget) throws {
        precondition(target.picture.width == base.width && target.picture.height == base.height, "the temporal target is not the objective's size")
        self.base = base
        let ctx = base.context, n = base.width * base.height
        self.target = try ctx.buffer(floats: 3 * n)
        let rgb = try ctx.buffer(target.picture.pixels)
        try base.kernels.normalize(rgb: rgb, into: self.target, height: base.height, width: base.width)
        weights = try ctx.buffer(target.weights)
        losses = try LossSlots(context: ctx, capacity: 1)
        slot = losses.claim("temporal")
        weight = target.weight
    }

    package var width: Int { base.width }
    package var height: Int { base.height }
    package var context: CLContext { base.context }
    package var kernels: Kernels { base.kernels }
    package var config: LossConfig { base.config }
    package var image: OptimizedImage { base.image }
    package var styleOps: [StyleLossOp] { base.styleOps }
    package var deviceBytes: Int { base.deviceBytes + Self.bytes(pixels: width * height) }

    package func captureStyles(_ styles: [StyleSource]) throws { try base.captureStyles(styles) }
    package func setContent(_ picture: RGBImage) throws { try base.setContent(picture) }
    package func setMasks(_ masks: [RGBImage]) throws { try base.setMasks(masks) }
    package func setWeights(_ w: LossWeights) { base.setWeights(w) }

    package func evaluate() throws -> LossTerms { try startEvaluation().wait() }

    package func startEvaluation() throws -> PendingLosses {
        let base = try base.startEvaluation()
        let n = width * height, scale = weight / Float(3 * n)
        try kernels.temporal(x, target: target, weights: weights, pixels: n, scale: scale, partials: losses.partials,
                             losses: losses.buffer, slot: slot)
        try kernels.temporalBackward(x, target: target, weights: weights, pixels: n, scale: scale, grad: grad)
        let temporal = try losses.buffer.readLater(count: slot + 1)
        let slot = self.slot
        return PendingLosses([temporal]) { values in
            // The base's read was enqueued first, so it is done once this one is.
            var terms = try base.wait()
            terms.temporal = values[0][slot]
            return terms
        }
    }
}
