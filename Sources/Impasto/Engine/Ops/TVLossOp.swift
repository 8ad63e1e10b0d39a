/// weight · the seed's total variation of the image (see cl/tv.cl).
package final class TVLossOp: Op {
    package let name: String
    let k: Kernels
    let shape: TensorShape
    package var weight: Float
    let losses: LossSlots
    package let slot: Int

    package var backwardReadsInputs: Bool { true }
    package var backwardReadsOutput: Bool { false }

    package init(name: String, kernels: Kernels, shape: TensorShape, weight: Float, losses: LossSlots) throws {
        self.name = name
        k = kernels
        self.shape = shape
        self.weight = weight
        self.losses = losses
        slot = losses.claim(name)
    }

    package func forward(_ b: OpBuffers) throws -> [Event] {
        try k.tv(b.inputs[0], channels: shape.c, height: shape.h, width: shape.w, weight: weight,
                 partials: losses.partials, losses: losses.buffer, slot: slot)
    }

    package func backward(_ b: OpBuffers) throws -> [Event] {
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
