/// What moves X each iteration. Each owns its device state; both evaluate the objective once
/// per step. What they carry from one scale of a coarse-to-fine run to the next is
/// `carried()` (Adam's moments; L-BFGS starts each scale afresh, its history being of the
/// last scale's size).
package protocol Optimizer: AnyObject {
    /// One evaluation and one move of X at `rate`; the losses before the move, and the rate
    /// actually used (L-BFGS scales its first step).
    func step(rate: Double) throws -> (LossTerms, Double)
    /// Device memory this optimiser holds beyond the objective's.
    var deviceBytes: Int { get }
    /// What the next scale starts from (nil: nothing).
    func carried() -> OptimizerState?
    /// Continues from a previous scale's `carried` state, resized to this one on the device.
    func resume(_ state: OptimizerState) throws
    /// Everything the next step reads, on the host (a checkpoint), and back.
    func snapshot() throws -> OptimizerSnapshot
    func restore(_ snapshot: OptimizerSnapshot) throws
}

/// An optimiser whose iteration splits where the host would otherwise wait: `evaluate`
/// enqueues the objective at X with its losses read without blocking, `move` enqueues the
/// update from that gradient. The run reports iteration k after enqueueing k+1's evaluation
/// and before its move, so the device works while the host reports, and X, the moments and
/// any snapshot are still exactly those after step k.
package protocol PipelinedOptimizer: Optimizer {
    func evaluate() throws -> PendingLosses
    func move(rate: Double) throws
}

/// An optimiser's state for a checkpoint.
package enum OptimizerSnapshot {
    case adam(m: [Float], v: [Float], steps: Int)
    case lbfgs(LBFGS.State)
}

/// Adam's moments and step count at one scale's size, still on the device (crowsonkb's
/// style-transfer-pytorch carries them to the next scale, resized).
package struct OptimizerState {
    package let width, height: Int
    let m, v: Buffer
    package let steps: Int
    package var deviceBytes: Int { m.bytes + v.bytes }
}

/// The seed's Adam (torch.optim.Adam's defaults), its moments on the device.
package final class AdamOptimizer: PipelinedOptimizer {
    let objective: Objective
    let m, v: Buffer
    package private(set) var steps = 0

    package init(objective: Objective) throws {
        self.objective = objective
        m = try objective.context.buffer(floats: objective.pixelCount).zeroed()
        v = try objective.context.buffer(floats: objective.pixelCount).zeroed()
    }

    /// Device bytes of the moments for an image of `pixels` values.
    package static func bytes(pixels: Int) -> Int { 2 * pixels * 4 }
    package var deviceBytes: Int { m.bytes + v.bytes }

    package func step(rate: Double) throws -> (LossTerms, Double) {
        let losses = try evaluate()
        try move(rate: rate)
        return (try losses.wait(), rate)
    }

    package func evaluate() throws -> PendingLosses { try objective.startEvaluation() }

    package func move(rate: Double) throws {
        steps += 1
        try objective.kernels.adamStep(x: objective.x, grad: objective.grad, m: m, v: v, count: objective.pixelCount,
                                       lr: Float(rate), t: steps)
    }

    package func carried() -> OptimizerState? {
        OptimizerState(width: objective.width, height: objective.height, m: m, v: v, steps: steps)
    }

    /// The moments resized bilinearly at pixel centres (v stays ≥ 0: the weights are).
    package func resume(_ state: OptimizerState) throws {
        let (w, h) = (objective.width, objective.height)
        if state.width == w && state.height == h {
            try m.copy(from: state.m, count: objective.pixelCount)
            try v.copy(from: state.v, count: objective.pixelCount)
        } else {
            let x = ResampleTaps.bilinear(from: state.width, to: w), y = ResampleTaps.bilinear(from: state.height, to: h)
            try objective.kernels.resample(state.m, into: m, layout: .planar, x: x, y: y)
            try objective.kernels.resample(state.v, into: v, layout: .planar, x: x, y: y)
        }
        steps = state.steps
    }

    package func snapshot() throws -> OptimizerSnapshot { .adam(m: try m.read(), v: try v.read(), steps: steps) }

    package func restore(_ snapshot: OptimizerSnapshot) throws {
        guard case .adam(let sm, let sv, let st) = snapshot, sm.count == objective.pixelCount, sv.count == sm.count else {
            throw StyleTransferError("the checkpoint holds another optimiser's state")
        }
        try m.write(sm)
        try v.write(sv)
        steps = st
    }
}

/// neural-style's L-BFGS (see `LBFGS`).
package final class LBFGSOptimizer: Optimizer {
    let lbfgs: LBFGS
    package init(objective: Objective, history: Int) throws {
        lbfgs = try LBFGS(objective: objective, history: history)
    }

    /// Device bytes of the history and work vectors for an image of `pixels` values.
    package static func bytes(history: Int, pixels: Int) -> Int { LBFGS.bytes(history: history, pixels: pixels) }

    package func step(rate: Double) throws -> (LossTerms, Double) {
        let (terms, used) = try lbfgs.step(lr: Float(rate))
        return (terms, Double(used))
    }
    package var deviceBytes: Int { lbfgs.deviceBytes }
    package func carried() -> OptimizerState? { nil }
    package func resume(_ state: OptimizerState) throws {}
    package func snapshot() throws -> OptimizerSnapshot { .lbfgs(try lbfgs.state()) }
    package func restore(_ snapshot: OptimizerSnapshot) throws {
        guard case .lbfgs(let state) = snapshot, state.history == lbfgs.history, state.direction.count == lbfgs.n else {
            throw StyleTransferError("the checkpoint holds another optimiser's state")
        }
        try lbfgs.restore(state)
    }
}
