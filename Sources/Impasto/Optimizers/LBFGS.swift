/// L-BFGS on the device, step for step as torch.optim.LBFGS runs it for neural-style
/// (no line search, fixed step `lr`, the first step scaled by min(1, 1/‖g‖₁)): each
/// iteration evaluates the objective once, then moves X along the two-loop direction built
/// from the last `history` (step, gradient-change) pairs. All vectors live on the device, and
/// so do the two-loop recursion's inner products (`scalars`): an iteration waits for the
/// device once, for y·s and y·y (whether the new pair is kept decides the ring, as in torch),
/// besides its losses. The history is allocated up front.
package final class LBFGS {
    let objective: Objective
    let k: Kernels
    let n: Int
    package let history: Int
    private var steps: [Buffer] = [], changes: [Buffer] = []  // s and y, a ring from `oldest`
    private var spareStep: Buffer, spareChange: Buffer          // the next pair, until accepted
    private var rho: [Float] = []
    private var used = 0, oldest = 0
    private let direction, previousGrad, q, partials: Buffer
    /// Device scalars: α of each ring slot (0..<history), then a zero, β, y·s and y·y.
    private let scalars: Buffer
    private var zeroSlot: Int { history }
    private var betaSlot: Int { history + 1 }
    private var curvatureSlot: Int { history + 2 }  // y·s, then y·y
    private var hDiag: Float = 1
    private var t: Float = 0
    private var first = true

    package init(objective: Objective, history: Int = 100) throws {
        precondition(history >= 1)
        self.objective = objective
        k = objective.kernels
        n = objective.pixelCount
        self.history = history
        let ctx = objective.context
        for _ in 0..<history {
            steps.append(try ctx.buffer(floats: n).zeroed())
            changes.append(try ctx.buffer(floats: n).zeroed())
        }
        spareStep = try ctx.buffer(floats: n).zeroed()
        spareChange = try ctx.buffer([Float](repeating: 0, count: n))
        rho = [Float](repeating: 0, count: history)
        direction = try ctx.buffer([Float](repeating: 0, count: n))
        previousGrad = try ctx.buffer([Float](repeating: 0, count: n))
        q = try ctx.buffer([Float](repeating: 0, count: n))
        partials = try ctx.buffer(floats: Kernels.partialCount)
        scalars = try ctx.buffer(floats: history + 4).zeroed()
    }

    /// Device bytes of the history and work vectors.
    package var deviceBytes: Int { Self.bytes(history: history, pixels: n) }
    package static func bytes(history: Int, pixels: Int) -> Int { (2 * history + 5) * pixels * 4 }

    /// scale · a·b into `scalars[slot]`.
    private func dot(_ a: Buffer, _ b: Buffer, into slot: Int, scale: Float = 1) throws {
        try k.dot(a, b, count: n, partials: partials, result: scalars, slot: slot, scale: scale)
    }

    /// One iteration: the losses at the current X (before the move), and the step length used.
    package func step(lr: Float) throws -> (LossTerms, Float) {
        let losses = try objective.startEvaluation()
        let g = objective.grad
        if first {
            first = false
            try k.axpby(-1, g, 0, direction, count: n)
            try k.l1Norm(g, count: n, partials: partials, result: scalars, slot: curvatureSlot)
            let l1 = try scalars.read(count: 1, at: curvatureSlot)[0]  // once per run
            t = min(1, 1 / max(l1, 1e-30)) * lr
        } else {
            // y = g − g_prev, s = t·d; kept (evicting the oldest pair when full) only when
            // the curvature condition y·s > 1e-10 holds, as torch does.
            let y = spareChange, s = spareStep
            try y.copy(from: g, count: n)
            try k.axpby(-1, previousGrad, 1, y, count: n)
            try k.axpby(t, direction, 0, s, count: n)
            try dot(y, s, into: curvatureSlot)
            try dot(y, y, into: curvatureSlot + 1)
            let curvature = try scalars.read(count: 2, at: curvatureSlot)  // the iteration's one wait
            let ys = curvature[0]
            if ys > 1e-10 {
                let slot = used < history ? (oldest + used) % history : oldest
                swap(&changes[slot], &spareChange)
                swap(&steps[slot], &spareStep)
                rho[slot] = 1 / ys
                if used < history { used += 1 } else { oldest = (oldest + 1) % history }
                hDiag = ys / curvature[1]
            }
            // Two-loop recursion: q = −g; newest to oldest (α_i = ρ_i s_i·q, q −= α_i y_i),
            // then oldest to newest (β = ρ_i y_i·d, d += (α_i − β) s_i), all on the device.
            try k.axpby(-1, g, 0, q, count: n)
            for j in stride(from: used - 1, through: 0, by: -1) {
                let i = (oldest + j) % history
                try dot(steps[i], q, into: i, scale: rho[i])
                try k.axpby(scalars, plus: zeroSlot, minus: i, changes[i], 1, q, count: n)
            }
            try k.axpby(hDiag, q, 0, direction, count: n)
            for j in 0..<used {
                let i = (oldest + j) % history
                try dot(changes[i], direction, into: betaSlot, scale: rho[i])
                try k.axpby(scalars, plus: i, minus: betaSlot, steps[i], 1, direction, count: n)
            }
            t = lr
        }
        try previousGrad.copy(from: g, count: n)
        try k.axpby(t, direction, 1, objective.x, count: n)
        return (try losses.wait(), t)
    }
}

extension LBFGS {
    /// Everything the next step reads: the pairs in the ring (oldest first), their ρ, the
    /// scalars and the last direction and gradient.
    package struct State {
        package let history: Int
        let pairs: [(step: [Float], change: [Float], rho: Float)]
        let hDiag, t: Float
        let first: Bool
        let direction, previousGrad: [Float]

        /// Floats in the arrays (what a checkpoint file holds besides the scalars).
        var arrays: [[Float]] { pairs.flatMap { [$0.step, $0.change] } + [direction, previousGrad] }
    }

    package func state() throws -> State {
        let pairs = try (0..<used).map { j -> (step: [Float], change: [Float], rho: Float) in
            let i = (oldest + j) % history
            return (try steps[i].read(count: n), try changes[i].read(count: n), rho[i])
        }
        return State(history: history, pairs: pairs, hDiag: hDiag, t: t, first: first,
                     direction: try direction.read(count: n), previousGrad: try previousGrad.read(count: n))
    }

    /// Continues from `state` (same history size and image size).
    package func restore(_ state: State) throws {
        precondition(state.history == history && state.pairs.count <= history && state.direction.count == n, "L-BFGS state of another shape")
        oldest = 0
        used = state.pairs.count
        for (i, p) in state.pairs.enumerated() {
            try steps[i].write(p.step)
            try changes[i].write(p.change)
            rho[i] = p.rho
        }
        (hDiag, t, first) = (state.hDiag, state.t, state.first)
        try direction.write(state.direction)
        try previousGrad.write(state.previousGrad)
    }
}
