import XCTest
@testable import Impasto

/// fp16 storage (`--storage fp16`): every kernel that reads or writes activations or their
/// gradients, built to store them as fp16, must give exactly its fp32 result rounded to fp16
/// (same inputs, already fp16 values, so only the final store differs); checked on every
/// device, since storage needs only core OpenCL C (vload_half). Then the whole objective with
/// fp16 storage against fp32 where the device has cl_khr_fp16, and the clear refusal where not.
final class HalfStorageTests: XCTestCase {
    var ctx: CLContext { TestEnv.context }
    var k: Kernels { get throws { try Kernels(context: ctx) } }

    /// Values that fp16 holds exactly, and an fp16 and an fp32 buffer of them.
    func pair(_ values: [Float]) throws -> (half: Buffer, full: Buffer) {
        let rounded = values.map { Float(Float16($0)) }
        let half = try ctx.buffer(count: values.count, storage: .fp16)
        try half.write(rounded)
        return (half, try ctx.buffer(rounded))
    }

    /// Outputs: fp16 and fp32, NaN-filled so every element must be written.
    func outputs(_ n: Int, half: Bool = true) throws -> (half: Buffer, full: Buffer) {
        let h = half ? try ctx.buffer(count: n, storage: .fp16) : try ctx.buffer(floats: n)
        if half { try h.fill(0) } else { try h.fill(.nan) }
        let f = try ctx.buffer(floats: n)
        try f.fill(half ? 0 : .nan)
        return (h, f)
    }

    /// `got` is `fp32` rounded to fp16, within one fp16 step (a tie may round either way when
    /// a compiler contracts the two variants' arithmetic differently).
    func assertRounded(_ got: [Float], _ fp32: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, fp32.count, what, file: file, line: line)
        var worst = 0, worstError: Float = 0
        for i in got.indices {
            let expected = Float16(fp32[i])
            let step = max(Float(expected.ulp), Float(Float16.leastNonzeroMagnitude))
            let error = abs(got[i] - Float(expected)) / step
            if !(error <= 1) || got[i].isNaN != fp32[i].isNaN { worst = i; worstError = .infinity; break }
            if error > worstError { worst = i; worstError = error }
        }
        XCTAssertLessThanOrEqual(worstError, 1, "\(what): element \(worst) is \(got[worst]), fp32 gives \(fp32[worst])", file: file, line: line)
    }

    func testBufferRoundsToNearestHalfAndReadsBack() throws {
        let values: [Float] = [0, 1, -2.5, 1e-3, 65504, 1.0009765625, 1.00048828125, 3.14159, -1e-7]
        let b = try ctx.buffer(count: values.count, storage: .fp16)
        XCTAssertEqual(b.bytes, (2 * values.count).roundedUp(to: 4))
        try b.write(values)
        XCTAssertEqual(try b.read(), values.map { Float(Float16($0)) })
        XCTAssertEqual(try b.read()[6], 1.0, "a tie rounds to even")
        try b.fill(0)
        XCTAssertEqual(try b.read(), [Float](repeating: 0, count: values.count))
    }

    func testConvolutionsStoringHalf() throws {
        var rng = TestRNG(70)
        let k = try self.k
        let shapes = TestEnv.underOclgrind ? [(3, 8, 3, 5), (16, 16, 4, 7)] : [(3, 8, 7, 9), (3, 13, 5, 33), (16, 16, 9, 17), (20, 32, 8, 70), (32, 16, 3, 5)]
        for (cin, cout, h, w) in shapes {
            let x = try pair(rng.floats(cin * h * w)), g = try pair(rng.floats(cout * h * w))
            let wt = rng.floats(cout * cin * 9, scale: 0.5), b = try ctx.buffer(ConvLayout.paddedBias(rng.floats(cout)))
            let zero = try ctx.buffer(floats: max(cin, cout).roundedUp(to: 8)).zeroed()
            let forward = try ctx.buffer(ConvLayout.forward(wt, cout: cout, cin: cin))
            let backward = try ctx.buffer(ConvLayout.backwardData(wt, cout: cout, cin: cin))
            let torchWeights = try ctx.buffer(wt)
            let scratch = WinogradScratch()
            let what = "\(cin)->\(cout) \(h)x\(w)"
            let fwd = ConvShape(cin: cin, cout: cout, height: h, width: w, backward: false)
            let bwd = ConvShape(cin: cout, cout: cin, height: h, width: w, backward: true)
            // Every kernel each direction can run on (Winograd, direct, the small-map blocks; one
            // block under oclgrind); the backward's after the first forward's mask.
            func kernels(_ s: ConvShape) -> [ConvKernel] {
                ConvKernel.candidates(for: s).filter { !TestEnv.underOclgrind || $0 == .small(px: 4, py: 2) || $0 == .direct || $0 == .winograd }
            }
            for kernel in kernels(fwd) {
                // Forward with the fused ReLU, from an fp16 input and from the fp32 image (layer 1).
                for inputHalf in [true, false] {
                    let out = try outputs(cout * h * w)
                    let masks = try (0..<2).map { _ in try ctx.buffer(floats: Kernels.rowMaskBytes(channels: cout, height: h, width: w) / 4) }
                    for (o, mask, input) in [(out.half, masks[0], inputHalf ? x.half : x.full), (out.full, masks[1], x.full)] {
                        _ = try k.conv(kernel, shape: fwd, input: input, output: o, raw: torchWeights, laid: forward, bias: b,
                                       reluMask: mask, scratch: scratch)
                    }
                    assertRounded(try out.half.read(), try out.full.read(), "forward+relu \(what) \(kernel), input fp16 \(inputHalf)")
                    XCTAssertEqual(try masks[0].read().map(\.bitPattern), try masks[1].read().map(\.bitPattern), "relu mask \(what) \(kernel)")
                    // Backward through the mask, into an fp16 gradient (accumulating) and into the
                    // fp32 image gradient, on every kernel the backward can run on.
                    for back in kernels(bwd) where inputHalf && kernel == .direct {
                        for outputHalf in [true, false] {
                            let gx = try outputs(cin * h * w, half: outputHalf)
                            for accumulate in outputHalf ? [false, true] : [false] {
                                for (input, o) in [(g.half, gx.half), (g.full, gx.full)] {
                                    _ = try k.conv(back, shape: bwd, input: input, output: o, raw: torchWeights, laid: backward, bias: zero,
                                                   accumulate: accumulate, inputMask: masks[1], scratch: scratch)
                                }
                                assertRounded(try gx.half.read(), try gx.full.read(),
                                              "backward \(what) \(back) out fp16 \(outputHalf) accumulate \(accumulate)")
                                // The accumulating pass adds onto equal values: the fp16 ones.
                                if !accumulate, outputHalf { try gx.full.write(try gx.half.read()) }
                            }
                        }
                    }
                }
            }
        }
    }

    func testPoolingAndReLUStoringHalf() throws {
        var rng = TestRNG(71)
        let k = try self.k
        for (c, h, w) in TestEnv.underOclgrind ? [(2, 5, 7)] : [(3, 5, 7), (8, 16, 33)] {
            let n = c * h * w, no = c * (h / 2) * (w / 2)
            let x = try pair(rng.floats(n)), g = try pair(rng.floats(no)), gn = try pair(rng.floats(n))
            // max and average pooling, forward and backward (accumulating onto equal values)
            let y = try outputs(no), argmax = try (0..<2).map { _ in try ctx.buffer(floats: no.divRoundUp(4)) }
            try k.maxPool(x.half, into: y.half, argmax: argmax[0], channels: c, height: h, width: w)
            try k.maxPool(x.full, into: y.full, argmax: argmax[1], channels: c, height: h, width: w)
            assertRounded(try y.half.read(), try y.full.read(), "maxpool \(c)x\(h)x\(w)")
            func positions(_ b: Buffer) throws -> [UInt8] {  // the first `no` bytes (the rest are never written)
                Array(try b.read().flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * $0)) } }.prefix(no))
            }
            XCTAssertEqual(try positions(argmax[0]), try positions(argmax[1]), "argmax")
            for accumulate in [false, true] {
                let gx = try pair(rng.floats(n))  // equal values to accumulate onto
                try k.maxPoolBackward(argmax: argmax[0], gradOutput: g.half, gradInput: gx.half, channels: c, height: h, width: w, accumulate: accumulate)
                try k.maxPoolBackward(argmax: argmax[1], gradOutput: g.full, gradInput: gx.full, channels: c, height: h, width: w, accumulate: accumulate)
                assertRounded(try gx.half.read(), try gx.full.read(), "maxpool backward accumulate \(accumulate)")
                try gx.full.write(try gx.half.read())
                try k.avgPoolBackward(gradOutput: g.half, gradInput: gx.half, channels: c, height: h, width: w, accumulate: accumulate)
                try k.avgPoolBackward(gradOutput: g.full, gradInput: gx.full, channels: c, height: h, width: w, accumulate: accumulate)
                assertRounded(try gx.half.read(), try gx.full.read(), "avgpool backward accumulate \(accumulate)")
            }
            try k.avgPool(x.half, into: y.half, channels: c, height: h, width: w)
            try k.avgPool(x.full, into: y.full, channels: c, height: h, width: w)
            assertRounded(try y.half.read(), try y.full.read(), "avgpool")
            // ReLU in place, and its backward
            let masks = try (0..<2).map { _ in try ctx.buffer(floats: Kernels.reluMaskBytes(n) / 4) }
            try k.relu(x.half, into: x.half, mask: masks[0], count: n)
            try k.relu(x.full, into: x.full, mask: masks[1], count: n)
            assertRounded(try x.half.read(), try x.full.read(), "relu")
            XCTAssertEqual(try masks[0].read().map(\.bitPattern), try masks[1].read().map(\.bitPattern))
            let gx = try outputs(n)
            try k.reluBackward(mask: masks[0], gradOutput: gn.half, gradInput: gx.half, count: n)
            try k.reluBackward(mask: masks[1], gradOutput: gn.full, gradInput: gx.full, count: n)
            assertRounded(try gx.half.read(), try gx.full.read(), "relu backward")
        }
    }

    func testLossKernelsStoringHalf() throws {
        var rng = TestRNG(72)
        let k = try self.k
        for (c, n) in TestEnv.underOclgrind ? [(5, 37)] : [(5, 37), (64, 300), (512, 44)] {
            let f = try pair(rng.floats(c * n)), target = try ctx.buffer(rng.floats(c * n))
            // Gram matrix of fp16 features (fp32 result): the same sums, so equal to rounding.
            let scratch = try ctx.buffer(floats: Kernels.gramScratchCount(c: c, n: n))
            let gh = try ctx.buffer(floats: c * c), gf = try ctx.buffer(floats: c * c)
            try k.gram(f.half, into: gh, scratch: scratch, channels: c, count: n, scale: 0.01)
            try k.gram(f.full, into: gf, scratch: scratch, channels: c, count: n, scale: 0.01)
            assertClose(try gh.read(), try gf.read(), abs: 1e-6, rel: 1e-5, "gram of fp16 features \(c)x\(n)")
            // S·F into an fp16 gradient, and accumulating onto it
            let raw = rng.floats(c * c, scale: 0.1)
            let s = try ctx.buffer((0..<(c * c)).map { i in raw[(i % c) * c + i / c] + raw[i] })  // symmetric
            let out = try outputs(c * n)
            for accumulate in [false, true] {
                try k.gramBackward(s: s, f: f.half, gradF: out.half, channels: c, count: n, accumulate: accumulate)
                try k.gramBackward(s: s, f: f.full, gradF: out.full, channels: c, count: n, accumulate: accumulate)
                assertRounded(try out.half.read(), try out.full.read(), "gram_backward \(c)x\(n) accumulate \(accumulate)")
                try out.full.write(try out.half.read())
            }
            // Content loss and its gradient (fp32 target), the style backward's add, the masks
            let losses = try ctx.buffer(floats: 2), partials = try ctx.buffer(floats: Kernels.partialCount)
            try k.sumSquaredDifference(f.half, target, count: c * n, partials: partials, losses: losses, slot: 0, scale: 0.5)
            try k.sumSquaredDifference(f.full, target, count: c * n, partials: partials, losses: losses, slot: 1, scale: 0.5)
            let l = try losses.read()
            XCTAssertEqual(l[0], l[1], accuracy: abs(l[1]) * 1e-6, "mse of fp16 features")
            for accumulate in [false, true] {
                try k.scaledDifference(f.half, target, into: out.half, count: c * n, scale: 0.3, accumulate: accumulate)
                try k.scaledDifference(f.full, target, into: out.full, count: c * n, scale: 0.3, accumulate: accumulate)
                assertRounded(try out.half.read(), try out.full.read(), "scaled_diff accumulate \(accumulate)")
                try out.full.write(try out.half.read())
            }
            let work = try ctx.buffer(rng.floats(c * n)), pixelMask = try ctx.buffer(rng.floats(n))
            try k.axpby(1, work, 1, out.half, count: c * n)
            try k.axpby(1, work, 1, out.full, count: c * n)
            assertRounded(try out.half.read(), try out.full.read(), "axpby into fp16")
            let captured = try ctx.buffer(floats: c * n), capturedFull = try ctx.buffer(floats: c * n)
            try k.axpby(1, f.half, 0, captured, count: c * n)
            XCTAssertEqual(try captured.read(), try f.full.read(), "an fp16 feature copied into an fp32 target")
            try k.maskMultiply(f.half, mask: pixelMask, into: captured, channels: c, count: n, accumulate: false)
            try k.maskMultiply(f.full, mask: pixelMask, into: capturedFull, channels: c, count: n, accumulate: false)
            XCTAssertEqual(try captured.read(), try capturedFull.read(), "mask_multiply of fp16 features")
            try out.full.write(try out.half.read())
            let norms = try ctx.buffer([2.5])
            try k.addNormalized(0.7, work, norms: norms, slot: 0, into: out.half, count: c * n, accumulate: true)
            try k.addNormalized(0.7, work, norms: norms, slot: 0, into: out.full, count: c * n, accumulate: true)
            assertRounded(try out.half.read(), try out.full.read(), "add_normalized into fp16")
        }
    }

    /// The whole objective with fp16 storage: the plan is half the size and the losses and
    /// the image gradient stay close to fp32's (activations rounded to 11 significant bits).
    func testObjectiveWithHalfStorage() throws {
        let weights = try VGGWeights.random(seed: 3)
        var config = LossConfig()
        config.storage = .fp16
        guard ctx.device.hasFP16 else {
            XCTAssertThrowsError(try WholeImageObjective(context: ctx, weights: weights, width: 48, height: 40, config: config)) { error in
                XCTAssertTrue("\(error)".contains("cl_khr_fp16"), "\(error)")
                XCTAssertTrue("\(error)".contains(ctx.device.name), "\(error)")
            }
            return
        }
        var rng = TestRNG(73)
        let (w, h) = (64, 48)
        let content = rng.floats(3 * w * h), style = rng.floats(3 * w * h), start = rng.floats(3 * w * h)
        func run(_ storage: Storage) throws -> (LossTerms, [Float], Int) {
            var c = LossConfig()
            c.storage = storage
            // Random weights: the style term needs a larger weight to matter; TV (computed on
            // the fp32 image) off, so the gradient is all activations'.
            let model = try WholeImageObjective(context: ctx, weights: weights, width: w, height: h, config: c)
            model.setWeights(LossWeights(content: 1, style: 1e9, tv: 0))
            try model.setStyle(style)
            try model.setContent(content)
            try model.x.write(start)
            let terms = try model.evaluate()
            return (terms, try model.grad.read(count: 3 * w * h), model.network.plan.totalBytes)
        }
        let (t32, g32, bytes32) = try run(.fp32)
        let (t16, g16, bytes16) = try run(.fp16)
        XCTAssertEqual(Double(bytes16), Double(bytes32) / 2, accuracy: Double(bytes32) * 0.01, "fp16 halves the activation plan")
        for (a, b, name) in [(t16.style, t32.style, "style"), (t16.content, t32.content, "content"), (t16.tv, t32.tv, "tv")] {
            XCTAssertEqual(a, b, accuracy: max(abs(b) * 5e-3, 1e-6), "\(name) loss with fp16 storage")
        }
        let diff = zip(g16, g32).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }.squareRoot()
        let norm = g32.reduce(0.0) { $0 + Double($1 * $1) }.squareRoot()
        XCTAssertLessThan(diff / norm, 1e-2, "image gradient with fp16 storage: relative L2 \(diff / norm)")
        print(String(format: "fp16 storage at %dx%d: plan %d -> %d bytes, style %.6g vs %.6g, content %.6g vs %.6g, gradient relative L2 %.2e",
                     w, h, bytes32, bytes16, t16.style, t32.style, t16.content, t32.content, diff / norm))
    }
}
