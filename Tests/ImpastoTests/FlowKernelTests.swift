import XCTest
@testable import Impasto

/// The optical-flow, warp, consistency-check and temporal-loss kernels against the Swift CPU
/// references (Support/CPUFlow.swift); the temporal gradient also by finite differences.
/// Under oclgrind (OclgrindTests) only the smallest shapes run.
final class FlowKernelTests: XCTestCase {
    var ctx: CLContext { TestEnv.context }
    static var cache: (FlowKernels, Kernels)?
    var fk: FlowKernels { kernels().0 }
    var k: Kernels { kernels().1 }
    func kernels() -> (FlowKernels, Kernels) {
        if let c = Self.cache { return c }
        let c = (try! FlowKernels(context: TestEnv.context), try! Kernels(context: TestEnv.context))
        Self.cache = c
        return c
    }

    /// (width, height): odd, non-square, a 1-pixel-high strip and sizes that are not multiples of the local size.
    var shapes: [(Int, Int)] { TestEnv.underOclgrind ? [(2, 2), (5, 3), (3, 1)] : [(2, 2), (7, 5), (17, 9), (33, 20), (5, 1)] }

    func grey(_ rng: inout TestRNG, _ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.uniform() * 255) } }
    func flowValues(_ rng: inout TestRNG, _ n: Int, scale: Double) -> [Float] { (0..<(2 * n)).map { _ in Float((rng.uniform() * 2 - 1) * scale) } }

    func out(_ n: Int) throws -> Buffer {
        let b = try ctx.buffer(floats: n)
        try b.fill(.nan)  // every element must be written
        return b
    }

    func testGreyAndPyramidMatchReference() throws {
        var rng = TestRNG(40)
        for (w, h) in shapes {
            let rgb = (0..<(3 * w * h)).map { _ in Float(rng.uniform()) }
            let g = try out(w * h)
            try fk.grayFromRGB(ctx.buffer(rgb), into: g, pixels: w * h)
            assertClose(try g.read(), CPUFlow.gray(rgb), abs: 1e-4, rel: 1e-6, "grey \(w)x\(h)")
            let plane = grey(&rng, w * h), (ow, oh) = FlowKernels.half(w, h)
            let down = try out(ow * oh)
            try fk.pyramidDown(ctx.buffer(plane), width: w, height: h, into: down)
            assertClose(try down.read(), CPUFlow.pyrDown(plane, w, h), abs: 1e-4, rel: 1e-6, "pyr_down \(w)x\(h)")
        }
    }

    func testFlowUpsampleMatchesReference() throws {
        var rng = TestRNG(41)
        for (w, h) in shapes {
            let (cw, ch) = FlowKernels.half(w, h)
            let coarse = flowValues(&rng, cw * ch, scale: 3)
            let fine = try out(2 * w * h)
            try fk.upsampleFlow(ctx.buffer(coarse), width: cw, height: ch, into: fine, width: w, height: h)
            assertClose(try fine.read(), CPUFlow.upsample(coarse, cw, ch, w, h), abs: 1e-5, rel: 1e-5, "upsample \(w)x\(h)")
        }
    }

    func testLinearizeSORAndMedianMatchReference() throws {
        var rng = TestRNG(42)
        for (w, h) in shapes {
            let n = w * h
            let a = grey(&rng, n), b = grey(&rng, n), flow = flowValues(&rng, n, scale: 1.5)
            let terms = try out(5 * n)
            try fk.linearize(ctx.buffer(a), ctx.buffer(b), width: w, height: h, flow: ctx.buffer(flow), terms: terms)
            let t = CPUFlow.linearize(a, b, w, h, flow)
            assertClose(try terms.read(), t, abs: 1e-3, rel: 1e-5, "linearize \(w)x\(h)")

            // Two sweeps from the same start and terms.
            let f = try ctx.buffer(flow)
            var ref = flow
            for _ in 0..<2 {
                try fk.sorSweep(f, terms: ctx.buffer(t), width: w, height: h, alpha2: 100, omega: 1.9)
                CPUFlow.sorSweep(&ref, t, w, h, alpha2: 100, omega: 1.9)
            }
            assertClose(try f.read(), ref, abs: 1e-4, rel: 1e-4, "sor \(w)x\(h)")

            let m = try out(2 * n)
            try fk.median(ctx.buffer(flow), into: m, width: w, height: h)
            XCTAssertEqual(try m.read(), CPUFlow.median(flow, w, h), "median \(w)x\(h)")
        }
    }

    /// The SOR sweep minimises the linearised energy: with exact data terms of a known
    /// translation it converges to it.
    func testSORSolvesAConstantMotion() throws {
        guard !TestEnv.underOclgrind else { return }
        let (w, h) = (12, 10), n = w * h
        // Ix = 1, Iy = 0.5, It = -(1 * 0.7 + 0.5 * -0.4) everywhere, u0 = v0 = 0: u = 0.7, v = -0.4 fits
        // the data exactly only up to the aperture; with smoothness the solution is constant
        // and on the line Ix u + Iy v + It = 0 closest to the start (0, 0).
        let it: Float = -(1 * 0.7 + 0.5 * -0.4)
        let terms = [Float](repeating: 1, count: n) + [Float](repeating: 0.5, count: n) + [Float](repeating: it, count: n)
            + [Float](repeating: 0, count: 2 * n)
        let f = try ctx.buffer([Float](repeating: 0, count: 2 * n))
        for _ in 0..<60 { try fk.sorSweep(f, terms: ctx.buffer(terms), width: w, height: h, alpha2: 1, omega: 1.5) }
        let v = try f.read()
        // The closest point of the line to the origin: -It (Ix, Iy) / (Ix² + Iy²).
        let s = -it / 1.25
        for p in 0..<n {
            XCTAssertEqual(v[p], s * 1, accuracy: 1e-4)
            XCTAssertEqual(v[n + p], s * 0.5, accuracy: 1e-4)
        }
    }

    func testWarpMatchesReferenceAndMovesByTheFlow() throws {
        var rng = TestRNG(43)
        for (w, h) in shapes {
            let n = w * h
            let picture = (0..<(3 * n)).map { _ in Float(rng.uniform()) }, flow = flowValues(&rng, n, scale: 2.5)
            let o = try out(3 * n)
            try fk.warp(ctx.buffer(picture), channels: 3, width: w, height: h, flow: ctx.buffer(flow), into: o)
            assertClose(try o.read(), CPUFlow.warp(picture, channels: 3, w, h, flow), abs: 1e-6, rel: 1e-5, "warp \(w)x\(h)")
        }
        // A whole-pixel shift moves the picture: out(x, y) = in(x + 2, y - 1).
        guard !TestEnv.underOclgrind else { return }
        let (w, h) = (9, 7), n = w * h
        let picture = (0..<(3 * n)).map { Float($0) }
        let flow = [Float](repeating: 2, count: n) + [Float](repeating: -1, count: n)
        let o = try out(3 * n)
        try fk.warp(ctx.buffer(picture), channels: 3, width: w, height: h, flow: ctx.buffer(flow), into: o)
        let v = try o.read()
        for y in 1..<h { for x in 0..<(w - 2) { for c in 0..<3 {
            XCTAssertEqual(v[(y * w + x) * 3 + c], picture[((y - 1) * w + x + 2) * 3 + c])
        } } }
    }

    func testConsistencyMatchesReferenceAndFindsDisocclusions() throws {
        var rng = TestRNG(44)
        for (w, h) in shapes {
            let n = w * h
            let b = flowValues(&rng, n, scale: 1.2), f = flowValues(&rng, n, scale: 1.2)
            let o = try out(n)
            try fk.consistency(backward: ctx.buffer(b), forward: ctx.buffer(f), width: w, height: h, into: o)
            XCTAssertEqual(try o.read(), CPUFlow.consistency(backward: b, forward: f, w, h), "consistency \(w)x\(h)")
        }
        guard !TestEnv.underOclgrind else { return }
        // A constant motion is consistent inside (1) and not where it leaves the picture (0);
        // a forward flow that disagrees is not consistent (0).
        let (w, h) = (10, 8), n = w * h
        let back = [Float](repeating: -2, count: n) + [Float](repeating: 0, count: n)
        let fwd = [Float](repeating: 2, count: n) + [Float](repeating: 0, count: n)
        let o = try out(n)
        try fk.consistency(backward: ctx.buffer(back), forward: ctx.buffer(fwd), width: w, height: h, into: o)
        let c = try o.read()
        for y in 0..<h { for x in 0..<w { XCTAssertEqual(c[y * w + x], x >= 2 ? 1 : 0, "(\(x), \(y))") } }
        let wrong = [Float](repeating: 0, count: 2 * n)
        try fk.consistency(backward: ctx.buffer(back), forward: ctx.buffer(wrong), width: w, height: h, into: o)
        XCTAssertEqual(try o.read(), [Float](repeating: 0, count: n))
    }

    func testTemporalLossAndGradientMatchReferenceAndFiniteDifferences() throws {
        var rng = TestRNG(45)
        for (w, h) in shapes {
            let n = w * h
            let x = (0..<(3 * n)).map { _ in Float(rng.normal()) }, t = (0..<(3 * n)).map { _ in Float(rng.normal()) }
            let c = (0..<n).map { _ in Float(rng.uniform() < 0.3 ? 0 : rng.uniform()) }
            let scale: Float = 7 / Float(3 * n)
            let losses = try ctx.buffer(floats: 2), partials = try ctx.buffer(floats: Kernels.partialCount)
            let xb = try ctx.buffer(x), tb = try ctx.buffer(t), cb = try ctx.buffer(c)
            try k.temporal(xb, target: tb, weights: cb, pixels: n, scale: scale, partials: partials, losses: losses, slot: 1)
            let g0 = (0..<(3 * n)).map { _ in Float(rng.normal()) }
            let g = try ctx.buffer(g0)
            try k.temporalBackward(xb, target: tb, weights: cb, pixels: n, scale: scale, grad: g)
            let (refLoss, refGrad) = CPUFlow.temporal(x.doubles, t.doubles, c.doubles, scale: Double(scale))
            XCTAssertEqual(Double(try losses.read()[1]), refLoss, accuracy: 1e-5 * max(1, abs(refLoss)), "temporal loss \(w)x\(h)")
            assertClose(try g.read(), zip(g0, refGrad).map { Float(Double($0) + $1) }, abs: 1e-5, rel: 1e-4, "temporal grad \(w)x\(h) (added)")
            // The reference gradient is the loss's derivative.
            let probe = Array(Set((0..<5).map { _ in Int(rng.next() % UInt64(3 * n)) })).sorted()
            let numeric = CPURef.numericGradient(x.doubles, at: probe) { CPUFlow.temporal($0, t.doubles, c.doubles, scale: Double(scale)).0 }
            for (i, e) in zip(probe, numeric) { XCTAssertEqual(refGrad[i], e, accuracy: 1e-6 + 1e-5 * abs(e), "finite difference at \(i)") }
        }
    }
}
