import Foundation

/// The Wasserstein-2 style loss's pieces (cl/w2.cl): channel means, covariances, matrix
/// square roots by Newton–Schulz iterations (C×C products on `gram_backward`), the loss and
/// the factors of its gradient. `StyleLossOp` puts them together.
extension Kernels {
    /// Newton–Schulz iterations per square root. With both covariances shifted by
    /// `w2Shift` of the style's mean channel variance, a prototype in fp32 (64 to 512 channels,
    /// from 48 to 3000 pixels, features with offsets and scales like ReLU layers') had the
    /// loss within 1e-5 of float64 after 20 steps and stayed there past 30. On the golden net
    /// (with the trace correction) the step-0 loss is 4e-5 from float64 after 20 steps and
    /// 2e-6 after 24 (`W2Tests`).
    package static let newtonSchulzSteps = 24
    /// κ: the variance both Gaussians of a region get on every channel is κ·tr(Σₛ)/C.
    package static let w2Shift: Float = 0.03

    /// Chunks of N the channel means are summed in: up to 64, none empty.
    static func meanChunks(n: Int) -> Int { n.divRoundUp(n.divRoundUp(min(64, max(n, 1)))) }
    /// Floats of scratch `channelMean` needs for C channels.
    static func meanScratchCount(c: Int, n: Int) -> Int { meanChunks(n: n) * c }

    /// mean (+)= scale · Σ_p X[i][p] for X of C × N.
    @discardableResult
    package func channelMean(_ x: Buffer, into mean: Buffer, scratch: Buffer, channels c: Int, count n: Int,
                             scale: Float, accumulate: Bool) throws -> [Event] {
        let chunks = Self.meanChunks(n: n)
        need(x, c * n, "mean x", anyStorage: true); need(mean, c, "mean"); need(scratch, chunks * c, "mean scratch")
        let partial = try storing(channelMeanPartial, ["X": x])
        return [try partial.launch(global: [c, chunks], local: LaunchShape.fit([1, 1], kernel: partial, device: device),
                                   .b(x), .b(scratch), .i(c), .i(n), .i(n.divRoundUp(chunks))),
                try channelMeanReduce.launch(global: [c], local: LaunchShape.linear(channelMeanReduce, device: device),
                                             .b(scratch), .b(mean), .i(c), .i(chunks), .f(scale), .i(accumulate ? 1 : 0))]
    }

    /// cov = C·G − μμᵀ for G = F Fᵀ / (C·area): the covariance about the mean.
    @discardableResult
    package func covariance(gram g: Buffer, mean: Buffer, into cov: Buffer, channels c: Int) throws -> Event {
        need(g, c * c, "covariance G"); need(mean, c, "covariance mean"); need(cov, c * c, "covariance")
        return try w2Covariance.launch(global: [c, c], local: square(w2Covariance), .b(g), .b(mean), .b(cov), .i(c), .f(Float(c)))
    }

    /// out = aᵀ·b for C × C matrices: a·b where a is exactly symmetric (Σ, A), or given a's
    /// transpose. (Taking a nearly symmetric a for its transpose is not enough: in Newton–Schulz
    /// the rounding-level asymmetry grows, and a prototype diverged within 15 steps.)
    @discardableResult
    package func matmul(transposed a: Buffer, _ b: Buffer, into out: Buffer, channels c: Int) throws -> Event {
        try gramBackward(s: a, f: b, gradF: out, channels: c, count: c, accumulate: false)
    }

    /// out = xᵀ for a C × C matrix.
    @discardableResult
    package func transpose(_ x: Buffer, into out: Buffer, channels c: Int) throws -> Event {
        precondition(x !== out, "a transpose cannot run in place")
        need(x, c * c, "transpose x"); need(out, c * c, "transpose out")
        return try w2Transpose.launch(global: [c, c], local: square(w2Transpose), .b(x), .b(out), .i(c))
    }

    /// The buffers `squareRoot` works in: seven C × C matrices and the scalars of cl/w2.cl.
    package struct SquareRootWork {
        let matrices: [Buffer]
        let scalars: Buffer
        let partials: Buffer

        init(context: CLContext, channels c: Int, partials: Buffer) throws {
            matrices = try (0..<7).map { _ in try context.buffer(floats: c * c) }
            scalars = try context.buffer([Float](repeating: 0, count: 4))
            self.partials = partials
        }
        var bytes: Int { matrices.reduce(0) { $0 + $1.bytes } + scalars.bytes }
    }

    /// Where `squareRoot` left Y → √(X/s) and Z → (X/s)^(-1/2) (and Zᵀ), s = |X|_F (its
    /// square in `work.scalars[0]`); with `traceCorrection`, ½ tr(Z (X/s − Y²)) in
    /// `work.scalars[1]`: tr √(X/s) ≈ tr Y + that, to first order (YL + LY = R has
    /// tr L = ½ tr(Y⁻¹R)). In fp32 it halves to quarters the error of tr Y on the
    /// ill-conditioned layers where W2 is a small difference of its traces.
    package struct SquareRoots {
        let y, z, zT: Buffer
        /// The commands that compute them (for profiles).
        let events: [Event]
    }

    /// Coupled Newton–Schulz on a symmetric positive definite X (C × C): Y₀ = X/s, Z₀ = I,
    /// then T = (3I − ZY)/2, Y ← YT, Z ← TZ, each product a true one (the left factor's
    /// transpose kept beside it). The first step needs no product for Z (Z₀ = I).
    package func squareRoot(of x: Buffer, work: SquareRootWork, channels c: Int, traceCorrection: Bool = false) throws -> SquareRoots {
        need(x, c * c, "square root X")
        let m = work.matrices, scalars = work.scalars
        var events = try dot(x, x, count: c * c, partials: work.partials, result: scalars, slot: 0)
        // Step 1: Y₀ in m[0] (its transpose in m[1]); T₀ = (3I − Y₀)/2 is Z₁ (m[5], m[6]).
        events += [try scale(x, by: scalars, slot: 0, power: -0.5, into: m[0], channels: c, symmetrize: false),
                   try transpose(m[0], into: m[1], channels: c),
                   try newtonSchulzT(m[0], into: m[5], transposeInto: m[6], channels: c),
                   try matmul(transposed: m[1], m[5], into: m[2], channels: c),
                   try transpose(m[2], into: m[3], channels: c)]
        // (Y, Yᵀ, Z, Zᵀ) and three free matrices.
        var (y, yT, z, zT) = (m[2], m[3], m[5], m[6])
        var free = [m[0], m[1], m[4]]
        for _ in 1..<Self.newtonSchulzSteps {
            let (p, t, tT) = (free[0], free[1], free[2])
            events += [try matmul(transposed: zT, y, into: p, channels: c),            // Z Y
                       try newtonSchulzT(p, into: t, transposeInto: tT, channels: c),
                       try matmul(transposed: yT, t, into: p, channels: c),            // Y T
                       try matmul(transposed: tT, z, into: y, channels: c),            // T Z (Y is spent)
                       try transpose(p, into: yT, channels: c),
                       try transpose(y, into: zT, channels: c)]
            (free, y, z) = ([z, t, tT], p, y)
        }
        if traceCorrection {
            let (r, yy) = (free[0], free[1])
            events += [try scale(x, by: scalars, slot: 0, power: -0.5, into: r, channels: c, symmetrize: false),
                       try matmul(transposed: yT, y, into: yy, channels: c),
                       try axpby(-1, yy, 1, r, count: c * c)]
            events += try dot(zT, r, count: c * c, partials: work.partials, result: scalars, slot: 1, scale: 0.5)
        }
        return SquareRoots(y: y, z: z, zT: zT, events: events)
    }

    /// shift[0] = κ·tr(cov)/C (`w2Shift`).
    @discardableResult
    package func w2TargetShift(_ cov: Buffer, into shift: Buffer, channels c: Int) throws -> Event {
        need(cov, c * c, "w2 target cov"); need(shift, 1, "w2 shift")
        return try w2TargetShift.launch(global: [1], local: [1], .b(cov), .b(shift), .i(c), .f(Self.w2Shift))
    }

    /// out = x + shift[0]·I (in place allowed).
    @discardableResult
    package func addShift(_ x: Buffer, shift: Buffer, into out: Buffer, channels c: Int) throws -> Event {
        need(x, c * c, "w2 shift x"); need(out, c * c, "w2 shift out"); need(shift, 1, "w2 shift")
        return try w2ShiftKernel.launch(global: [c, c], local: square(w2ShiftKernel), .b(x), .b(shift), .b(out), .i(c))
    }

    /// out = x · scalars[slot]^power, symmetrised ((x + xᵀ)/2) when asked.
    @discardableResult
    package func scale(_ x: Buffer, by scalars: Buffer, slot: Int, power: Float, into out: Buffer, channels c: Int,
                       symmetrize: Bool) throws -> Event {
        need(x, c * c, "w2 scale x"); need(out, c * c, "w2 scale out"); need(scalars, slot + 1, "w2 scalars")
        precondition(!(symmetrize && x === out), "a symmetrised scale cannot run in place")
        return try w2Scale.launch(global: [c, c], local: square(w2Scale), .b(x), .b(scalars), .i(slot), .f(power), .b(out), .i(c),
                                  .i(symmetrize ? 1 : 0))
    }

    private func newtonSchulzT(_ p: Buffer, into t: Buffer, transposeInto tT: Buffer, channels c: Int) throws -> Event {
        try w2NewtonSchulzT.launch(global: [c, c], local: square(w2NewtonSchulzT), .b(p), .b(t), .b(tT), .i(c))
    }

    /// losses[slot] = weight/C · (|μ − μₜ|² + tr covₜ + tr cov − 2 tr √M), from M's roots and
    /// both covariances shifted by shift[0] (`cov` already is; the target's trace gets it here).
    @discardableResult
    package func w2Loss(mean: Buffer, targetMean: Buffer, cov: Buffer, targetGram: Buffer, shift: Buffer, roots: SquareRoots,
                        work: SquareRootWork, losses: Buffer, slot: Int, channels c: Int, weight: Float) throws -> Event {
        need(mean, c, "w2 mean"); need(targetMean, c, "w2 target mean"); need(cov, c * c, "w2 cov")
        need(targetGram, c * c, "w2 target G"); need(shift, 1, "w2 shift"); need(losses, slot + 1, "losses")
        return try w2LossKernel.launch(global: [1], local: [1], .b(mean), .b(targetMean), .b(cov), .b(targetGram), .b(shift),
                                       .b(roots.y), .b(work.scalars), .b(losses), .i(slot), .i(c), .f(Float(c)), .f(weight))
    }

    /// S = scale · (I − sym(Q)/√s), Q = A Z A.
    @discardableResult
    package func w2Gradient(q: Buffer, work: SquareRootWork, into s: Buffer, channels c: Int, scale: Float) throws -> Event {
        need(q, c * c, "w2 Q"); need(s, c * c, "w2 S")
        return try w2GradientKernel.launch(global: [c, c], local: square(w2GradientKernel), .b(q), .b(work.scalars), .b(s),
                                           .i(c), .f(scale))
    }

    /// b = meanScale · (μ − μₜ) − S μ.
    @discardableResult
    package func w2MeanGradient(mean: Buffer, targetMean: Buffer, s: Buffer, into b: Buffer, channels c: Int,
                                meanScale: Float) throws -> Event {
        need(mean, c, "w2 mean"); need(targetMean, c, "w2 target mean"); need(s, c * c, "w2 S"); need(b, c, "w2 b")
        return try w2MeanGradientKernel.launch(global: [c], local: LaunchShape.linear(w2MeanGradientKernel, device: device),
                                               .b(mean), .b(targetMean), .b(s), .b(b), .i(c), .f(meanScale))
    }

    /// out[i][p] += b[i] · mask[p] for out of C × N.
    @discardableResult
    package func addChannelOuter(_ b: Buffer, mask: Buffer, into out: Buffer, channels c: Int, count n: Int) throws -> Event {
        need(b, c, "outer b"); need(out, c * n, "outer out"); need(mask, n, "outer mask")
        return try addChannelOuterKernel.launch(global: [c * n], local: LaunchShape.linear(addChannelOuterKernel, device: device),
                                                .b(out), .b(b), .b(mask), .i(c), .i(n))
    }

    private func square(_ k: Kernel) -> [Int] { LaunchShape.fit(device.isCPU ? [1, 1] : [8, 8], kernel: k, device: device) }
}
