import Foundation

/// Gram matrices, loss reductions, TV, Adam and image conversion.
extension Kernels {
    /// How many chunks of N the Gram kernel splits its reduction into: chunks of C rows small
    /// enough (about 512 KiB) to stay in cache while every block pair reads them (the chunk
    /// index varies slowest), at least 1024 columns each (shorter chunks spent as long on each
    /// work-item's final lane sums as on the products: C=512 took 16 ms at 256, 10 at 1024),
    /// none empty.
    static func gramChunks(c: Int, n: Int) -> Int {
        let length = max(1024, (1 << 17) / max(c, 1))
        let chunks = max(1, n.divRoundUp(length))
        // No empty chunk: with chunk = ceil(n/chunks), the count that covers n.
        return n.divRoundUp(n.divRoundUp(chunks))
    }

    /// Floats of scratch `gram` needs for a C x N matrix.
    static func gramScratchCount(c: Int, n: Int) -> Int {
        gramChunks(c: c, n: n) * c * c
    }

    /// G = scale · F Fᵀ for F of C x N (G is C x C, exactly symmetric).
    @discardableResult
    package func gram(_ f: Buffer, into g: Buffer, scratch: Buffer, channels c: Int, count n: Int, scale: Float) throws -> [Event] {
        let chunks = Self.gramChunks(c: c, n: n)
        let chunk = n.divRoundUp(chunks)
        need(f, c * n, "gram F", anyStorage: true); need(g, c * c, "gram G"); need(scratch, chunks * c * c, "gram scratch")
        let gramPartial = try storing(self.gramPartial, ["F": f])
        let blocks = c.divRoundUp(4)
        let local = LaunchShape.fit(device.isCPU ? [1, 1, 1] : [4, 4, 1], kernel: gramPartial, device: device)
        let partial = try gramPartial.launch(global: [blocks, blocks, chunks], local: local,
                                             .b(f), .b(scratch), .i(c), .i(n), .i(chunk))
        let l2 = LaunchShape.fit([8, 8], kernel: gramReduce, device: device)
        return [partial, try gramReduce.launch(global: [c, c], local: l2, .b(scratch), .b(g), .i(c), .i(chunks), .f(scale))]
    }

    /// gF (+)= S F (+ bias 1ᵀ, one value per row), S symmetric C x C, F C x N.
    @discardableResult
    package func gramBackward(s: Buffer, f: Buffer, gradF: Buffer, channels c: Int, count n: Int, accumulate: Bool,
                              bias: Buffer? = nil) throws -> Event {
        need(s, c * c, "gram_backward S"); need(f, c * n, "gram_backward F", anyStorage: true)
        need(gradF, c * n, "gram_backward gF", anyStorage: true)
        if let bias { need(bias, c, "gram_backward bias") }
        let gramBackward = try storing(self.gramBackward, ["F": f, "GF": gradF])
        let local = LaunchShape.fit(device.isCPU ? [1, 1] : [4, 16], kernel: gramBackward, device: device)
        return try gramBackward.launch(global: [c.divRoundUp(gramBlock.rows), n.divRoundUp(gramBlock.columns)], local: local,
                                       .b(s), .b(f), .b(gradF), .i(c), .i(n), .i(accumulate ? 1 : 0), .b(bias ?? s), .i(bias == nil ? 0 : 1))
    }

    /// losses[slot] = scale · Σ (a − b)², using `partials` (at least `partialCount` floats).
    @discardableResult
    package func sumSquaredDifference(_ a: Buffer, _ b: Buffer, count n: Int, partials: Buffer,
                                     losses: Buffer, slot: Int, scale: Float) throws -> [Event] {
        need(a, n, "mse a", anyStorage: true); need(b, n, "mse b"); need(partials, Self.partialCount, "partials"); need(losses, slot + 1, "losses")
        let partial = try storing(msePartial, ["A": a]).launch(global: [Self.partialCount], local: reductionLocal(msePartial), .b(a), .b(b), .i(n), .b(partials))
        return [partial, try finishSum(partials: partials, losses: losses, slot: slot, scale: scale)]
    }

    /// out (+)= scale · (a − b).
    @discardableResult
    package func scaledDifference(_ a: Buffer, _ b: Buffer, into out: Buffer, count n: Int, scale: Float, accumulate: Bool) throws -> Event {
        need(a, n, "diff a", anyStorage: true); need(b, n, "diff b"); need(out, n, "diff out", anyStorage: true)
        return try storing(scaledDiff, ["A": a, "OUT": out]).launch(global: [n], local: LaunchShape.linear(scaledDiff, device: device),
                                     .b(a), .b(b), .b(out), .i(n), .f(scale), .i(accumulate ? 1 : 0))
    }

    /// TV loss scales for a C x H x W image with loss weight w: (vertical, horizontal).
    static func tvScales(c: Int, h: Int, w: Int, weight: Float) -> (Float, Float) {
        let sv = h > 1 ? 0.5 * weight / Float(c * (h - 1) * w) : 0
        let sh = w > 1 ? 0.5 * weight / Float(c * h * (w - 1)) : 0
        return (sv, sh)
    }

    /// losses[slot] = weight · tv(x).
    @discardableResult
    package func tv(_ x: Buffer, channels c: Int, height h: Int, width w: Int, weight: Float,
                   partials: Buffer, losses: Buffer, slot: Int) throws -> [Event] {
        need(x, c * h * w, "tv x"); need(partials, Self.partialCount, "partials")
        let (sv, sh) = Self.tvScales(c: c, h: h, w: w, weight: weight)
        let partial = try tvPartial.launch(global: [Self.partialCount], local: reductionLocal(tvPartial),
                                           .b(x), .i(c), .i(h), .i(w), .f(sv), .f(sh), .b(partials))
        return [partial, try finishSum(partials: partials, losses: losses, slot: slot, scale: 1)]
    }

    /// g (+)= weight · ∂tv/∂x.
    @discardableResult
    package func tvBackward(_ x: Buffer, grad g: Buffer, channels c: Int, height h: Int, width w: Int,
                           weight: Float, accumulate: Bool) throws -> Event {
        need(x, c * h * w, "tv x"); need(g, c * h * w, "tv g")
        let (sv, sh) = Self.tvScales(c: c, h: h, w: w, weight: weight)
        return try tvBackward.launch(global: [c * h * w], local: LaunchShape.linear(tvBackward, device: device),
                                     .b(x), .b(g), .i(c), .i(h), .i(w), .f(sv), .f(sh), .i(accumulate ? 1 : 0))
    }

    /// losses[slot] = scale · Σ_c Σ_p c(p) (x − t)², for X and t of 3 × `pixels`.
    @discardableResult
    package func temporal(_ x: Buffer, target t: Buffer, weights c: Buffer, pixels n: Int, scale: Float,
                         partials: Buffer, losses: Buffer, slot: Int) throws -> [Event] {
        need(x, 3 * n, "temporal x"); need(t, 3 * n, "temporal t"); need(c, n, "temporal c"); need(partials, Self.partialCount, "partials")
        let partial = try temporalPartial.launch(global: [Self.partialCount], local: reductionLocal(temporalPartial),
                                                 .b(x), .b(t), .b(c), .i(n), .f(scale), .b(partials))
        return [partial, try finishSum(partials: partials, losses: losses, slot: slot, scale: 1)]
    }

    /// g += 2 · scale · c(p) (x − t).
    @discardableResult
    package func temporalBackward(_ x: Buffer, target t: Buffer, weights c: Buffer, pixels n: Int, scale: Float, grad g: Buffer) throws -> Event {
        need(x, 3 * n, "temporal x"); need(t, 3 * n, "temporal t"); need(c, n, "temporal c"); need(g, 3 * n, "temporal g")
        return try temporalBackward.launch(global: [3 * n], local: LaunchShape.linear(temporalBackward, device: device),
                                           .b(x), .b(t), .b(c), .i(n), .f(scale), .b(g))
    }

    /// scale · Σ a·b, left in result[slot] on the device (the next kernels read it there).
    @discardableResult
    package func dot(_ a: Buffer, _ b: Buffer, count n: Int, partials: Buffer, result: Buffer, slot: Int = 0, scale: Float = 1) throws -> [Event] {
        need(a, n, "dot a"); need(b, n, "dot b"); need(result, slot + 1, "dot result")
        let e = try dotPartial.launch(global: [Self.partialCount], local: reductionLocal(dotPartial), .b(a), .b(b), .i(n), .b(partials))
        return [e, try finishSum(partials: partials, losses: result, slot: slot, scale: scale)]
    }

    /// Σ |a|, left in result[slot] on the device.
    @discardableResult
    package func l1Norm(_ a: Buffer, count n: Int, partials: Buffer, result: Buffer, slot: Int) throws -> [Event] {
        need(a, n, "l1 a")
        let e = try absPartial.launch(global: [Self.partialCount], local: reductionLocal(absPartial), .b(a), .i(n), .b(partials))
        return [e, try finishSum(partials: partials, losses: result, slot: slot, scale: 1)]
    }

    private func reductionLocal(_ k: Kernel) -> [Int] {
        // A power of two dividing partialCount.
        LaunchShape.fit([64], kernel: k, device: device)
    }

    private func finishSum(partials: Buffer, losses: Buffer, slot: Int, scale: Float) throws -> Event {
        try sumPartials.launch(global: [1], local: [1], .b(partials), .i(Self.partialCount), .b(losses), .i(slot), .f(scale))
    }

    /// One Adam step (PyTorch's semantics) at step number `t` (1-based).
    @discardableResult
    package func adamStep(x: Buffer, grad: Buffer, m: Buffer, v: Buffer, count n: Int, lr: Float, t: Int,
                         beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8) throws -> Event {
        need(x, n, "adam x"); need(grad, n, "adam g"); need(m, n, "adam m"); need(v, n, "adam v")
        // Bias corrections in double, as PyTorch computes them on the host in Python floats.
        let bc1 = 1 - pow(beta1, Double(t))
        let bc2 = 1 - pow(beta2, Double(t))
        let stepSize = Float(Double(lr) / bc1)
        return try adam.launch(global: [n], local: LaunchShape.linear(adam, device: device),
                               .b(x), .b(grad), .b(m), .b(v), .i(n), .f(Float(1 - beta1)), .f(Float(beta2)),
                               .f(Float(1 - beta2)), .f(Float(eps)), .f(stepSize), .f(Float(bc2.squareRoot())))
    }

    /// Interleaved RGB in [0,1] → normalised planar image.
    @discardableResult
    package func normalize(rgb: Buffer, into x: Buffer, height h: Int, width w: Int) throws -> Event {
        need(rgb, 3 * h * w, "rgb"); need(x, 3 * h * w, "x")
        return try normalize.launch(global: [h * w], local: LaunchShape.linear(normalize, device: device), .b(rgb), .b(x), .i(h), .i(w))
    }

    /// Normalised planar image → interleaved RGB clamped to [0,1].
    @discardableResult
    package func denormalize(_ x: Buffer, into rgb: Buffer, height h: Int, width w: Int) throws -> Event {
        need(rgb, 3 * h * w, "rgb"); need(x, 3 * h * w, "x")
        return try denormalize.launch(global: [h * w], local: LaunchShape.linear(denormalize, device: device), .b(x), .b(rgb), .i(h), .i(w))
    }
}
