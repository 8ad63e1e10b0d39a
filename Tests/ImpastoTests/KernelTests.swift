import XCTest
@testable import Impasto

/// Every kernel against the Swift CPU reference; every backward also by central finite
/// differences of the reference (double precision) and against the kernel. Under oclgrind
/// (see OclgrindTests) only the smallest shapes run.
final class KernelTests: XCTestCase {
    var ctx: CLContext { TestEnv.context }
    static var kernelsCache: Kernels?
    var k: Kernels {
        if let k = Self.kernelsCache { return k }
        let k = try! Kernels(context: TestEnv.context)
        Self.kernelsCache = k
        return k
    }

    /// (cin, cout, h, w): 1x1 images, odd sizes, channel counts that are not multiples of 8,
    /// widths that are not multiples of the 8-pixel block.
    var convShapes: [(Int, Int, Int, Int)] {
        TestEnv.underOclgrind
            ? [(1, 1, 1, 1), (3, 9, 3, 5), (2, 8, 2, 17)]
            : [(1, 1, 1, 1), (3, 8, 3, 5), (3, 13, 7, 9), (1, 3, 5, 3), (16, 9, 9, 17), (20, 24, 4, 11), (4, 8, 3, 40), (2, 3, 2, 33)]
    }

    func testConvForwardMatchesReference() throws {
        var rng = TestRNG(10)
        for vw in Kernels.convWidths { for (cin, cout, h, w) in convShapes {
            let x = rng.floats(cin * h * w), wt = rng.floats(cout * cin * 9, scale: 0.5), b = rng.floats(cout)
            let out = try ctx.buffer(floats: cout * h * w)
            try out.fill(.nan)  // every element must be written
            try k.conv3x3(input: ctx.buffer(x), weights: ctx.buffer(ConvLayout.forward(wt, cout: cout, cin: cin)),
                          bias: ctx.buffer(ConvLayout.paddedBias(b)), output: out, cin: cin, cout: cout, height: h, width: w,
                          vectorWidth: vw)
            let ref = CPURef.conv3x3(x.doubles, wt.doubles, b.doubles, cin: cin, cout: cout, h: h, w: w)
            assertClose(try out.read(), ref.floats, abs: 1e-5, rel: 1e-4, "conv \(cin)->\(cout) \(h)x\(w) VW \(vw)")

            // accumulate adds onto what is there
            try k.conv3x3(input: ctx.buffer(x), weights: ctx.buffer(ConvLayout.forward(wt, cout: cout, cin: cin)),
                          bias: ctx.buffer(ConvLayout.paddedBias(b)), output: out, cin: cin, cout: cout, height: h, width: w,
                          accumulate: true, vectorWidth: vw)
            assertClose(try out.read(), ref.map { 2 * $0 }.floats, abs: 2e-5, rel: 1e-4, "conv accumulate VW \(vw)")
        } }
    }

    func testConvBackwardDataMatchesReferenceAndFiniteDifferences() throws {
        var rng = TestRNG(11)
        for (cin, cout, h, w) in convShapes {
            let x = rng.floats(cin * h * w), wt = rng.floats(cout * cin * 9, scale: 0.5), g = rng.floats(cout * h * w)
            let gx = try ctx.buffer(floats: cin * h * w)
            try k.conv3x3(input: ctx.buffer(g), weights: ctx.buffer(ConvLayout.backwardData(wt, cout: cout, cin: cin)),
                          bias: ctx.buffer(floats: cin.roundedUp(to: 8)).zeroed(), output: gx,
                          cin: cout, cout: cin, height: h, width: w)
            let ref = CPURef.conv3x3BackwardData(g.doubles, wt.doubles, cin: cin, cout: cout, h: h, w: w)
            assertClose(try gx.read(), ref.floats, abs: 1e-5, rel: 1e-4, "conv backward \(cin)->\(cout) \(h)x\(w)")

            // The reference backward is the derivative of the reference forward.
            let probe = Array(Set((0..<6).map { _ in Int(rng.next() % UInt64(x.count)) })).sorted()
            let numeric = CPURef.numericGradient(x.doubles, at: probe) { xs in
                zip(CPURef.conv3x3(xs, wt.doubles, [Double](repeating: 0, count: cout), cin: cin, cout: cout, h: h, w: w), g.doubles)
                    .reduce(0) { $0 + $1.0 * $1.1 }
            }
            for (n, i) in zip(numeric, probe) { XCTAssertEqual(ref[i], n, accuracy: 1e-6 * max(1, abs(n))) }
        }
    }

    /// The direct conv's fused ReLU (conv1_1 carries relu1_1): max(conv + bias, 0) and the
    /// mask's bits, then the backward reading its input through that mask, against the CPU
    /// reference of conv-backward(g ⊙ mask).
    func testConvFusedReLUMatchesReference() throws {
        var rng = TestRNG(12)
        for vw in Kernels.convWidths { for (cin, cout, h, w) in convShapes {
            let x = rng.floats(cin * h * w), wt = rng.floats(cout * cin * 9, scale: 0.5), b = rng.floats(cout)
            let g = rng.floats(cout * h * w)
            let out = try ctx.buffer(floats: cout * h * w)
            let mask = try ctx.buffer(floats: Kernels.rowMaskBytes(channels: cout, height: h, width: w) / 4)
            try mask.fill(.nan)  // the kernel zeroes it before ORing bits in
            try k.conv3x3(input: ctx.buffer(x), weights: ctx.buffer(ConvLayout.forward(wt, cout: cout, cin: cin)),
                          bias: ctx.buffer(ConvLayout.paddedBias(b)), output: out, cin: cin, cout: cout, height: h, width: w,
                          reluMask: mask, vectorWidth: vw)
            let ref = CPURef.conv3x3(x.doubles, wt.doubles, b.doubles, cin: cin, cout: cout, h: h, w: w)
            let fused = try out.read(count: cout * h * w)
            assertClose(fused, ref.map { max($0, 0) }.floats, abs: 1e-5, rel: 1e-4, "fused relu \(cin)->\(cout) \(h)x\(w) VW \(vw)")
            let positive = fused.map { $0 > 0 }
            assertRowMask(try mask.read().map(\.bitPattern), positive, channels: cout, height: h, width: w, "direct VW \(vw)")

            let gx = try ctx.buffer(floats: cin * h * w)
            try k.conv3x3(input: ctx.buffer(g), weights: ctx.buffer(ConvLayout.backwardData(wt, cout: cout, cin: cin)),
                          bias: ctx.buffer(floats: cin.roundedUp(to: 8)).zeroed(), output: gx,
                          cin: cout, cout: cin, height: h, width: w, inputMask: mask, vectorWidth: vw)
            let gMasked = zip(g, positive).map { $1 ? $0 : 0 }
            let refB = CPURef.conv3x3BackwardData(gMasked.doubles, wt.doubles, cin: cin, cout: cout, h: h, w: w)
            assertClose(try gx.read(), refB.floats, abs: 1e-5, rel: 1e-4, "masked backward \(cin)->\(cout) \(h)x\(w) VW \(vw)")
        } }
    }

    /// The small-map kernel (cl/conv_small.cl) in every block the autotune or the rule can
    /// pick: forward, accumulate, the fused ReLU's output and mask bits, and the backward that
    /// reads its input through that mask, against the CPU reference; widths past one mask word.
    func testSmallMapConvMatchesReference() throws {
        var rng = TestRNG(13)
        let shapes = TestEnv.underOclgrind ? [(3, 16, 3, 5), (2, 16, 2, 9)]
            : [(1, 16, 1, 1), (3, 16, 3, 5), (16, 32, 4, 11), (8, 16, 7, 9), (5, 32, 2, 33), (16, 16, 6, 8)]
        var blocks = Set(ConvKernel.smallBlocks.map { Kernels.SmallBlock(px: $0.0, py: $0.1) })
        for w in [1, 3, 5] { for h in [1, 3] { blocks.insert(Kernels.smallBlock(width: w, height: h)) } }
        if TestEnv.underOclgrind { blocks = [Kernels.SmallBlock(px: 4, py: 2), Kernels.SmallBlock(px: 8, py: 1)] }
        for block in blocks.sorted(by: { ($0.px, $0.py) < ($1.px, $1.py) }) { for (cin, cout, h, w) in shapes {
            let what = "small \(block.px)x\(block.py) \(cin)->\(cout) \(h)x\(w)"
            let x = rng.floats(cin * h * w), wt = rng.floats(cout * cin * 9, scale: 0.5), b = rng.floats(cout)
            let g = rng.floats(cout * h * w)
            let weights = try ctx.buffer(ConvLayout.forward(wt, cout: cout, cin: cin)), bias = try ctx.buffer(ConvLayout.paddedBias(b))
            let out = try ctx.buffer(floats: cout * h * w)
            try out.fill(.nan)  // every element must be written
            try k.convSmall(input: ctx.buffer(x), weights: weights, bias: bias, output: out, cin: cin, cout: cout,
                            height: h, width: w, block: (block.px, block.py))
            let ref = CPURef.conv3x3(x.doubles, wt.doubles, b.doubles, cin: cin, cout: cout, h: h, w: w)
            assertClose(try out.read(), ref.floats, abs: 1e-5, rel: 1e-4, what)
            try k.convSmall(input: ctx.buffer(x), weights: weights, bias: bias, output: out, cin: cin, cout: cout,
                            height: h, width: w, accumulate: true, block: (block.px, block.py))
            assertClose(try out.read(), ref.map { 2 * $0 }.floats, abs: 2e-5, rel: 1e-4, "\(what) accumulate")

            let mask = try ctx.buffer(floats: Kernels.rowMaskBytes(channels: cout, height: h, width: w) / 4)
            try mask.fill(.nan)  // the kernel zeroes it before ORing bits in
            try k.convSmall(input: ctx.buffer(x), weights: weights, bias: bias, output: out, cin: cin, cout: cout,
                            height: h, width: w, reluMask: mask, block: (block.px, block.py))
            let fused = try out.read(count: cout * h * w)
            assertClose(fused, ref.map { max($0, 0) }.floats, abs: 1e-5, rel: 1e-4, "\(what) fused relu")
            let positive = fused.map { $0 > 0 }
            assertRowMask(try mask.read().map(\.bitPattern), positive, channels: cout, height: h, width: w, what)

            // The backward maps cout -> cin, so it runs on this kernel where cin fills its vectors.
            guard Kernels.smallMapFits(cout: cin) else { continue }
            let gx = try ctx.buffer(floats: cin * h * w)
            try k.convSmall(input: ctx.buffer(g), weights: ctx.buffer(ConvLayout.backwardData(wt, cout: cout, cin: cin)),
                            bias: ctx.buffer(floats: cin.roundedUp(to: 8)).zeroed(), output: gx, cin: cout, cout: cin,
                            height: h, width: w, inputMask: mask, block: (block.px, block.py))
            let gMasked = zip(g, positive).map { $1 ? $0 : 0 }
            let refB = CPURef.conv3x3BackwardData(gMasked.doubles, wt.doubles, cin: cin, cout: cout, h: h, w: w)
            assertClose(try gx.read(), refB.floats, abs: 1e-5, rel: 1e-4, "\(what) masked backward")
        } }
    }

    /// Every word of a fused ReLU's mask (rows of ceil(w/32) words) holds exactly the bits of
    /// the positive elements, and nothing past the row's end.
    func assertRowMask(_ bits: [UInt32], _ positive: [Bool], channels c: Int, height h: Int, width w: Int, _ what: String,
                       file: StaticString = #filePath, line: UInt = #line) {
        let words = w.divRoundUp(32)
        for o in 0..<c { for y in 0..<h { for word in 0..<words {
            var expected: UInt32 = 0
            for bit in 0..<32 where word * 32 + bit < w && positive[(o * h + y) * w + word * 32 + bit] { expected |= 1 << bit }
            XCTAssertEqual(bits[(o * h + y) * words + word], expected, "mask word \(o),\(y),\(word) \(what)", file: file, line: line)
        } } }
    }

    /// Winograd F(4x4, 3x3), forward and backward-data (the flipped kernel), against the same
    /// references as the direct kernel; small tile passes force several chunks. Both forms of
    /// the transforms (16 tiles per work-item, which has a border-free fast path from 130
    /// columns, and 1).
    func testWinogradMatchesReference() throws {
        var rng = TestRNG(20)
        let shapes = TestEnv.underOclgrind ? [(2, 3, 5, 6), (3, 9, 4, 4), (1, 2, 10, 130)]
            : [(1, 1, 1, 1), (3, 9, 5, 6), (16, 16, 9, 17), (20, 24, 4, 11), (8, 3, 13, 7), (17, 33, 12, 40), (5, 8, 14, 141)]
        for maxTiles in [16, 2048] { for tv in Tuning.transformTilesChoices {
            var tuning = k.tuning
            tuning.transformTiles = tv
            let k = try Kernels(context: ctx, tuning: tuning)
            let scratch = WinogradScratch(maxTiles: maxTiles)
            for (cin, cout, h, w) in shapes {
                let x = rng.floats(cin * h * w), wt = rng.floats(cout * cin * 9, scale: 0.5), b = rng.floats(cout)
                let g = rng.floats(cout * h * w)
                let out = try ctx.buffer(floats: cout * h * w), gx = try ctx.buffer(floats: cin * h * w)
                try out.fill(.nan)
                let bw = try ctx.buffer(wt)
                try k.winogradConv(input: ctx.buffer(x), weights: bw, flipped: false, bias: ctx.buffer(ConvLayout.paddedBias(b)),
                                   output: out, cin: cin, cout: cout, height: h, width: w, scratch: scratch)
                let ref = CPURef.conv3x3(x.doubles, wt.doubles, b.doubles, cin: cin, cout: cout, h: h, w: w)
                assertClose(try out.read(), ref.floats, abs: 1e-4, rel: 1e-3, "winograd \(cin)->\(cout) \(h)x\(w) tiles \(maxTiles) tv \(tv)")
                try k.winogradConv(input: ctx.buffer(g), weights: bw, flipped: true, bias: ctx.buffer(floats: cin.roundedUp(to: 8)).zeroed(),
                                   output: gx, cin: cout, cout: cin, height: h, width: w, scratch: scratch)
                let refB = CPURef.conv3x3BackwardData(g.doubles, wt.doubles, cin: cin, cout: cout, h: h, w: w)
                assertClose(try gx.read(), refB.floats, abs: 1e-4, rel: 1e-3, "winograd backward \(cin)->\(cout) \(h)x\(w)")
                // accumulate
                try k.winogradConv(input: ctx.buffer(g), weights: bw, flipped: true, bias: ctx.buffer(floats: cin.roundedUp(to: 8)).zeroed(),
                                   output: gx, cin: cout, cout: cin, height: h, width: w, accumulate: true, scratch: scratch)
                assertClose(try gx.read(), refB.map { 2 * $0 }.floats, abs: 2e-4, rel: 1e-3, "winograd accumulate")

                // Fused ReLU: max(out, 0) and its mask bits (rows of 32-bit words) ...
                let mask = try ctx.buffer(floats: Kernels.rowMaskBytes(channels: cout, height: h, width: w) / 4)
                try mask.fill(.nan)  // every bit must be written
                try k.winogradConv(input: ctx.buffer(x), weights: bw, flipped: false, bias: ctx.buffer(ConvLayout.paddedBias(b)),
                                   output: out, cin: cin, cout: cout, height: h, width: w, reluMask: mask, scratch: scratch)
                let plain = try out.read(count: cout * h * w), bits = try mask.read().map(\.bitPattern)
                var relu = plain, positive = [Bool](repeating: false, count: plain.count)
                try k.winogradConv(input: ctx.buffer(x), weights: bw, flipped: false, bias: ctx.buffer(ConvLayout.paddedBias(b)),
                                   output: out, cin: cin, cout: cout, height: h, width: w, scratch: scratch)
                for (i, v) in try out.read(count: cout * h * w).enumerated() {
                    relu[i] = max(v, 0)
                    positive[i] = v > 0
                }
                XCTAssertEqual(plain, relu, "fused relu \(cin)->\(cout) \(h)x\(w) tv \(tv)")
                assertRowMask(bits, positive, channels: cout, height: h, width: w, "tv \(tv)")
                // ... and the backward that reads its input through that mask (the ReLU's backward).
                try k.winogradConv(input: ctx.buffer(g), weights: bw, flipped: true, bias: ctx.buffer(floats: cin.roundedUp(to: 8)).zeroed(),
                                   output: gx, cin: cout, cout: cin, height: h, width: w, inputMask: mask, scratch: scratch)
                let gMasked = zip(g, positive).map { $1 ? $0 : 0 }
                let refM = CPURef.conv3x3BackwardData(gMasked.doubles, wt.doubles, cin: cin, cout: cout, h: h, w: w)
                assertClose(try gx.read(), refM.floats, abs: 1e-4, rel: 1e-3, "winograd masked backward \(cin)->\(cout) \(h)x\(w) tv \(tv)")
            }
        } }
    }

    func testAveragePoolingAndItsBackward() throws {
        var rng = TestRNG(40)
        for (c, h, w) in [(2, 5, 7), (1, 4, 4)] {
            let x = rng.floats(c * h * w), g = rng.floats(c * (h / 2) * (w / 2))
            let out = try ctx.buffer(floats: g.count), gx = try ctx.buffer(floats: x.count)
            try k.avgPool(ctx.buffer(x), into: out, channels: c, height: h, width: w)
            try k.avgPoolBackward(gradOutput: ctx.buffer(g), gradInput: gx, channels: c, height: h, width: w)
            func pool(_ xs: [Double]) -> [Double] {
                var o = [Double]()
                for ch in 0..<c { for oy in 0..<(h / 2) { for ox in 0..<(w / 2) {
                    o.append((0..<4).reduce(0.0) { $0 + xs[(ch * h + 2 * oy + $1 / 2) * w + 2 * ox + $1 % 2] } / 4)
                } } }
                return o
            }
            assertClose(try out.read(), pool(x.doubles).floats, abs: 1e-6, rel: 1e-5, "avgpool")
            let numeric = CPURef.numericGradient(x.doubles, at: Array(0..<x.count)) { zip(pool($0), g.doubles).reduce(0) { $0 + $1.0 * $1.1 } }
            assertClose(try gx.read(), numeric.floats, abs: 1e-5, rel: 1e-4, "avgpool backward")
        }
    }

    /// The optimisers' vector kernels: axpby (also with a coefficient on the device), dot, L1 norm,
    /// normalised add, mask multiply.
    func testVectorKernels() throws {
        var rng = TestRNG(21)
        let n = TestEnv.underOclgrind ? 37 : 5003
        let x = rng.floats(n), y = rng.floats(n)
        let bx = try ctx.buffer(x), by = try ctx.buffer(y)
        let partials = try ctx.buffer(floats: Kernels.partialCount), result = try ctx.buffer(floats: 2)
        try k.dot(bx, by, count: n, partials: partials, result: result, slot: 0, scale: -0.5)
        let dot = try result.read(count: 1)[0]
        XCTAssertEqual(Double(dot), -0.5 * zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }, accuracy: 1e-3)
        try k.l1Norm(bx, count: n, partials: partials, result: result, slot: 1)
        let l1 = x.reduce(0.0) { $0 + Double(abs($1)) }
        XCTAssertEqual(Double(try result.read(count: 1, at: 1)[0]), l1, accuracy: 1e-4 * l1)
        try k.axpby(2, bx, -1, by, count: n)
        assertClose(try by.read(), zip(x, y).map { 2 * $0 - $1 }, abs: 1e-6, rel: 1e-6, "axpby")
        try k.axpby(3, bx, 0, by, count: n)
        assertClose(try by.read(), x.map { 3 * $0 }, abs: 1e-6, rel: 1e-6, "axpby b=0")
        // The coefficient from the device: result[1] − result[0] = ‖x‖₁ + dot/2.
        let before = try by.read()
        try k.axpby(result, plus: 1, minus: 0, bx, 1, by, count: n)
        let r = try result.read(count: 2), a = r[1] - r[0]
        assertClose(try by.read(), zip(x, before).map { a * $0 + $1 }, abs: 1e-5, rel: 1e-5, "axpby with device coefficient")
        try k.axpby(result, plus: 0, minus: 1, bx, 0, by, count: n)
        assertClose(try by.read(), x.map { -a * $0 }, abs: 1e-5, rel: 1e-5, "axpby with device coefficient, b=0")
        try k.addNormalized(5, bx, norms: result, slot: 1, into: by, count: n, accumulate: false)
        assertClose(try by.read(), x.map { 5 * $0 / Float(l1 + 1e-8) }, abs: 1e-6, rel: 1e-4, "addNormalized")
        let c = 3, m = n / 3
        let mask = rng.floats(m)
        try k.maskMultiply(bx, mask: ctx.buffer(mask), into: by, channels: c, count: m, accumulate: false)
        assertClose(try by.read(count: c * m), (0..<(c * m)).map { x[$0] * mask[$0 % m] }, abs: 1e-6, rel: 1e-6, "mask")
    }

    func testReluForwardBackwardInPlace() throws {
        var rng = TestRNG(12)
        let n = TestEnv.underOclgrind ? 37 : 1001
        let x = rng.floats(n), gy = rng.floats(n)
        let bx = try ctx.buffer(x), mask = try ctx.buffer(floats: Kernels.reluMaskBytes(n) / 4)
        try k.relu(bx, into: bx, mask: mask, count: n)  // in place
        let y = try bx.read()
        XCTAssertEqual(y, x.map { max($0, 0) })
        try bx.fill(.nan)  // the backward must not read the activation
        let bg = try ctx.buffer(gy)
        try k.reluBackward(mask: mask, gradOutput: bg, gradInput: bg, count: n)  // in place
        XCTAssertEqual(try bg.read(), zip(x, gy).map { $0 > 0 ? $1 : 0 })
        // Finite differences away from the kink.
        for i in 0..<min(n, 20) where abs(x[i]) > 1e-3 {
            let num = CPURef.numericGradient([Double(x[i])], at: [0]) { max($0[0], 0) * Double(gy[i]) }[0]
            XCTAssertEqual(num, x[i] > 0 ? Double(gy[i]) : 0, accuracy: 1e-6)
        }
    }

    var poolShapes: [(Int, Int, Int)] {
        TestEnv.underOclgrind ? [(1, 3, 5), (2, 4, 4)] : [(1, 2, 2), (1, 3, 5), (3, 7, 9), (5, 16, 12), (2, 1, 3)]
    }

    func testMaxPoolForwardBackwardOddSizes() throws {
        var rng = TestRNG(13)
        // Values rounded to tenths make ties: the first maximum in row-major order wins, as in PyTorch.
        for (c, h, w) in poolShapes { for ties in [false, true] {
            let x = rng.floats(c * h * w).map { ties ? ($0 * 10).rounded() / 10 : $0 }, nOut = c * (h / 2) * (w / 2)
            let g = rng.floats(max(nOut, 1))
            let bx = try ctx.buffer(x), out = try ctx.buffer(floats: max(nOut, 1)), argmax = try ctx.buffer(floats: nOut / 4 + 1)
            if nOut > 0 {
                try k.maxPool(bx, into: out, argmax: argmax, channels: c, height: h, width: w)
                assertClose(try out.read(count: nOut), CPURef.maxPool(x.doubles, c: c, h: h, w: w).floats, abs: 0, rel: 0, "pool")
            }
            let gx = try ctx.buffer(floats: c * h * w)
            try gx.fill(.nan)
            try k.maxPoolBackward(argmax: argmax, gradOutput: ctx.buffer(g), gradInput: gx, channels: c, height: h, width: w)
            let ref = CPURef.maxPoolBackward(x.doubles, Array(g.prefix(nOut)).doubles, c: c, h: h, w: w)
            assertClose(try gx.read(), ref.floats, abs: 0, rel: 0, "pool backward \(c)x\(h)x\(w)")
            if ties { continue }  // no derivative at a tie
            let all = Array(0..<x.count)
            let numeric = CPURef.numericGradient(x.doubles, at: all) { xs in
                zip(CPURef.maxPool(xs, c: c, h: h, w: w), g.doubles).reduce(0) { $0 + $1.0 * $1.1 }
            }
            for i in all { XCTAssertEqual(ref[i], numeric[i], accuracy: 1e-6) }
        } }
    }

    var gramShapes: [(Int, Int)] {
        TestEnv.underOclgrind ? [(3, 7), (5, 20)] : [(1, 1), (3, 7), (8, 3072), (13, 999), (64, 48)]
    }

    func testGramMatchesReferenceAndIsSymmetric() throws {
        var rng = TestRNG(14)
        for (c, n) in gramShapes {
            let f = rng.floats(c * n)
            let g = try ctx.buffer(floats: c * c)
            let scratch = try ctx.buffer(floats: Kernels.gramScratchCount(c: c, n: n))
            try k.gram(ctx.buffer(f), into: g, scratch: scratch, channels: c, count: n, scale: 1 / Float(c * n))
            let got = try g.read()
            assertClose(got, CPURef.gram(f.doubles, c: c, n: n).floats, abs: 1e-6, rel: 1e-4, "gram \(c)x\(n)")
            for i in 0..<c { for j in 0..<c { XCTAssertEqual(got[i * c + j], got[j * c + i]) } }
        }
    }

    /// The style-loss chain exactly as the engine runs it: G, the loss, S = 4w(G − Gs)/(C²·CN),
    /// gF = S F; checked against finite differences of w·mean((gram(F) − Gs)²).
    func testStyleLossGradientByFiniteDifferences() throws {
        var rng = TestRNG(15)
        for (c, n) in gramShapes where c * n > 1 {
            let f = rng.floats(c * n), target = CPURef.gram(rng.floats(c * n).doubles, c: c, n: n)
            let weight = 3.0
            let bf = try ctx.buffer(f), g = try ctx.buffer(floats: c * c), gs = try ctx.buffer(target.floats)
            let scratch = try ctx.buffer(floats: Kernels.gramScratchCount(c: c, n: n))
            let partials = try ctx.buffer(floats: Kernels.partialCount), losses = try ctx.buffer(floats: 4)
            try k.gram(bf, into: g, scratch: scratch, channels: c, count: n, scale: 1 / Float(c * n))
            try k.sumSquaredDifference(g, gs, count: c * c, partials: partials, losses: losses, slot: 2,
                                       scale: Float(weight) / Float(c * c))
            let s = try ctx.buffer(floats: c * c), gf = try ctx.buffer(floats: c * n)
            try k.scaledDifference(g, gs, into: s, count: c * c, scale: Float(4 * weight) / Float(c * c) / Float(c * n), accumulate: false)
            try k.gramBackward(s: s, f: bf, gradF: gf, channels: c, count: n, accumulate: false)

            let loss = CPURef.styleLoss(f.doubles, target: target, c: c, n: n, weight: weight)
            XCTAssertEqual(Double(try losses.read(count: 1, at: 2)[0]), loss, accuracy: 1e-4 * max(loss, 1e-6))
            let probe = Array(Set((0..<8).map { _ in Int(rng.next() % UInt64(f.count)) })).sorted()
            let numeric = CPURef.numericGradient(f.doubles, at: probe, step: 1e-5) {
                CPURef.styleLoss($0, target: target, c: c, n: n, weight: weight)
            }
            let got = try gf.read()
            for (num, i) in zip(numeric, probe) {
                XCTAssertEqual(Double(got[i]), num, accuracy: 1e-3 * abs(num) + 1e-7, "style grad \(c)x\(n) at \(i)")
            }
        }
    }

    /// gF = S·F for every block shape gram_backward is built with (16×16 on CPUs, 8×4 on GPUs,
    /// where this test cannot otherwise reach), full and ragged blocks, against the CPU product.
    func testGramBackwardEveryBlockShape() throws {
        var rng = TestRNG(17)
        // (512, 44): a real style layer's channels with 12 leftover columns, whose path once
        // looped 16 x 12 x 512 times per work-item (past llvmpipe's 65535-trip limit).
        let shapes = TestEnv.underOclgrind ? [(16, 20), (5, 7)] : [(32, 70), (48, 33), (5, 7), (17, 16), (512, 44)]
        for (c, n) in shapes {
            let a = rng.floats(c * c), f = rng.floats(c * n)
            let sym = (0..<(c * c)).map { a[($0 / c) * c + $0 % c] + a[($0 % c) * c + $0 / c] }  // S is symmetric
            var want = [Double](repeating: 0, count: c * n)
            for i in 0..<c { for t in 0..<n { for j in 0..<c { want[i * n + t] += Double(sym[i * c + j]) * Double(f[j * n + t]) } } }
            // With a per-row bias (W2's b 1ᵀ) too.
            let bias = rng.floats(c), biased = (0..<(c * n)).map { want[$0] + Double(bias[$0 / n]) }
            for (rows, columns) in [(16, 16), (8, 4), (8, 8)] {
                let kernel = try ctx.kernel("gram_backward", "gram_backward", defines: ["VW": "\(columns)", "RB": "\(rows)"])
                for withBias in [false, true] {
                    let out = try ctx.buffer(floats: c * n)
                    try kernel.launch(global: [c.divRoundUp(rows), n.divRoundUp(columns)], local: [1, 1],
                                      .b(ctx.buffer(sym)), .b(ctx.buffer(f)), .b(out), .i(c), .i(n), .i(0),
                                      .b(ctx.buffer(bias)), .i(withBias ? 1 : 0))
                    assertClose(try out.read(), (withBias ? biased : want).floats, abs: 1e-5, rel: 1e-4,
                                "gram_backward \(c)x\(n) block \(rows)x\(columns)\(withBias ? " with a bias" : "")")
                }
            }
        }
    }

    func testContentLossAndGradient() throws {
        var rng = TestRNG(16)
        let n = TestEnv.underOclgrind ? 50 : 5003
        let a = rng.floats(n), b = rng.floats(n)
        let ba = try ctx.buffer(a), bb = try ctx.buffer(b)
        let partials = try ctx.buffer(floats: Kernels.partialCount), losses = try ctx.buffer(floats: 1)
        try k.sumSquaredDifference(ba, bb, count: n, partials: partials, losses: losses, slot: 0, scale: 2 / Float(n))
        let loss = 2 * CPURef.mse(a.doubles, b.doubles)
        XCTAssertEqual(Double(try losses.read()[0]), loss, accuracy: 1e-5 * loss)
        let g = try ctx.buffer(floats: n)
        try g.fill(1)
        try k.scaledDifference(ba, bb, into: g, count: n, scale: 4 / Float(n), accumulate: true)
        let probe = [0, n / 3, n - 1]
        let numeric = CPURef.numericGradient(a.doubles, at: probe) { 2 * CPURef.mse($0, b.doubles) }
        let got = try g.read()
        for (num, i) in zip(numeric, probe) { XCTAssertEqual(Double(got[i]) - 1, num, accuracy: 1e-4 * abs(num) + 1e-7) }
    }

    func testTotalVariationAndGradient() throws {
        var rng = TestRNG(17)
        let shapes = TestEnv.underOclgrind ? [(3, 3, 4)] : [(3, 3, 4), (3, 17, 9), (1, 2, 2), (3, 48, 64)]
        for (c, h, w) in shapes {
            let x = rng.floats(c * h * w)
            let bx = try ctx.buffer(x)
            let partials = try ctx.buffer(floats: Kernels.partialCount), losses = try ctx.buffer(floats: 1)
            try k.tv(bx, channels: c, height: h, width: w, weight: 10, partials: partials, losses: losses, slot: 0)
            let ref = CPURef.tv(x.doubles, c: c, h: h, w: w, weight: 10)
            XCTAssertEqual(Double(try losses.read()[0]), ref, accuracy: 1e-5 * ref)
            let g = try ctx.buffer(floats: c * h * w)
            try g.fill(.nan)
            try k.tvBackward(bx, grad: g, channels: c, height: h, width: w, weight: 10, accumulate: false)
            let got = try g.read()
            let probe = Array(Set((0..<10).map { _ in Int(rng.next() % UInt64(x.count)) })).sorted()
            let numeric = CPURef.numericGradient(x.doubles, at: probe) { CPURef.tv($0, c: c, h: h, w: w, weight: 10) }
            for (num, i) in zip(numeric, probe) {
                XCTAssertEqual(Double(got[i]), num, accuracy: 1e-4 * abs(num) + 1e-6, "tv grad \(c)x\(h)x\(w) at \(i)")
            }
        }
    }

    func testAdamMatchesPyTorchsUpdate() throws {
        var rng = TestRNG(18)
        let n = TestEnv.underOclgrind ? 10 : 777
        var x = rng.floats(n).doubles, m = [Double](repeating: 0, count: n), v = m
        let bx = try ctx.buffer(x.floats), bm = try ctx.buffer(m.floats), bv = try ctx.buffer(v.floats)
        for t in 1...5 {
            let g = rng.floats(n)
            try k.adamStep(x: bx, grad: ctx.buffer(g), m: bm, v: bv, count: n, lr: 0.3, t: t)
            for i in 0..<n {
                m[i] = 0.9 * m[i] + 0.1 * Double(g[i])
                v[i] = 0.999 * v[i] + 0.001 * Double(g[i]) * Double(g[i])
                let denom = v[i].squareRoot() / (1 - pow(0.999, Double(t))).squareRoot() + 1e-8
                x[i] -= 0.3 / (1 - pow(0.9, Double(t))) * m[i] / denom
            }
        }
        assertClose(try bx.read(), x.floats, abs: 1e-5, rel: 1e-5, "adam")
    }

    func testCropAndAddTile() throws {
        var rng = TestRNG(31)
        let (c, h, w) = (3, 7, 9)
        let image = rng.floats(c * h * w), tile = rng.floats(c * 4 * 5)
        let window = PixelRect(x0: 3, y0: 2, x1: 8, y1: 6)
        let out = try ctx.buffer(floats: c * 4 * 5)
        try k.crop(ctx.buffer(image), channels: c, height: h, width: w, window: window, into: out)
        var expected: [Float] = []
        for ch in 0..<c { for y in 2..<6 { for x in 3..<8 { expected.append(image[(ch * h + y) * w + x]) } } }
        XCTAssertEqual(try out.read(), expected)

        let target = try ctx.buffer(image)
        try k.addTile(ctx.buffer(tile), channels: c, into: target, height: h, width: w, window: window)
        var sum = image
        for ch in 0..<c { for y in 0..<4 { for x in 0..<5 { sum[(ch * h + y + 2) * w + x + 3] += tile[(ch * 4 + y) * 5 + x] } } }
        XCTAssertEqual(try target.read(), sum)
    }

    func testNormalizeAndDenormalize() throws {
        var rng = TestRNG(19)
        let (h, w) = TestEnv.underOclgrind ? (2, 3) : (7, 9)
        let rgb = rng.floats(h * w * 3).map { ($0 + 1) / 2 }
        let x = try ctx.buffer(floats: 3 * h * w), back = try ctx.buffer(floats: 3 * h * w)
        try k.normalize(rgb: ctx.buffer(rgb), into: x, height: h, width: w)
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        var ref = [Float](repeating: 0, count: 3 * h * w)
        for p in 0..<(h * w) { for c in 0..<3 { ref[c * h * w + p] = (rgb[p * 3 + c] - mean[c]) / std[c] } }
        assertClose(try x.read(), ref, abs: 1e-6, rel: 1e-6, "normalize")
        try k.denormalize(x, into: back, height: h, width: w)
        assertClose(try back.read(), rgb, abs: 1e-6, rel: 1e-6, "denormalize")
        // Clamping.
        try x.fill(100)
        try k.denormalize(x, into: back, height: h, width: w)
        XCTAssertEqual(try back.read(), [Float](repeating: 1, count: 3 * h * w))
    }

    /// The device resample gives exactly the host's resizes: `RGBImage.resized` (triangle
    /// filter, clamped) on interleaved pictures, up and down, and the bilinear moment resize
    /// (`hostBilinear`) on planar images; the same size is a copy.
    func testResampleEqualsTheHostResizes() throws {
        var rng = TestRNG(43)
        let (w, h) = TestEnv.underOclgrind ? (5, 4) : (23, 17)
        let picture = RGBImage(width: w, height: h, pixels: rng.floats(3 * w * h).map { ($0 + 1) / 2 })
        let source = try ctx.buffer(picture.pixels)
        for (nw, nh) in [(2 * w + 1, 2 * h - 1), (w / 2, h / 3 + 1), (w, h)] {
            let out = try ctx.buffer(floats: 3 * nw * nh)
            try k.resample(source, into: out, layout: .interleaved, x: .triangle(from: w, to: nw), y: .triangle(from: h, to: nh), clamp: true)
            XCTAssertEqual(try out.read(), picture.resized(width: nw, height: nh).pixels, "picture \(w)x\(h) -> \(nw)x\(nh)")
            let planar = rng.floats(3 * w * h)
            try k.resample(ctx.buffer(planar), into: out, layout: .planar, x: .bilinear(from: w, to: nw), y: .bilinear(from: h, to: nh))
            XCTAssertEqual(try out.read(), hostBilinear(planar, w, h, nw, nh), "planar \(w)x\(h) -> \(nw)x\(nh)")
        }
    }

    /// A tile's mask: 1 on the owned block, 0 elsewhere, times the user's window; and its square.
    func testTileMask() throws {
        var rng = TestRNG(47)
        let (lw, lh, gw, gh) = (6, 5, 9, 8)
        let owned = PixelRect(x0: 1, y0: 2, x1: 5, y1: 4), (ux, uy) = (2, 3)
        let user = rng.floats(gw * gh).map { abs($0) }
        let mask = try ctx.buffer(floats: lw * lh), squared = try ctx.buffer(floats: lw * lh)
        try k.tileMask(into: mask, squared: squared, width: lw, height: lh, owned: owned,
                       user: TileMaskSource(values: try ctx.buffer(user), width: gw, height: gh, x0: ux, y0: uy))
        var want = [Float](repeating: 0, count: lw * lh)
        for y in owned.y0..<owned.y1 { for x in owned.x0..<owned.x1 { want[y * lw + x] = user[(uy + y) * gw + ux + x] } }
        XCTAssertEqual(try mask.read(), want)
        XCTAssertEqual(try squared.read(), want.map { $0 * $0 })
        try k.tileMask(into: mask, squared: nil, width: lw, height: lh, owned: owned, user: nil)
        XCTAssertEqual(try mask.read(), want.indices.map { i -> Float in
            let (x, y) = (i % lw, i / lw)
            return x >= owned.x0 && x < owned.x1 && y >= owned.y0 && y < owned.y1 ? 1 : 0
        })
    }
}
