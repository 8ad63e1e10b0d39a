import Foundation

/// `impasto devices --check`: a few small launches of the kernels a run depends on (direct and
/// Winograd convolution forward and backward with the fused ReLU, Gram matrix and its
/// backward at 512 channels with a ragged edge, max pooling), each against a plain CPU loop,
/// so a broken driver shows before a long run (as PlaidML's set-up does).
package enum SelfTest {
    package struct Result: Encodable {
        package let name: String
        package let relativeError: Double
        package let passed: Bool
        package init(name: String, relativeError: Double, passed: Bool) {
            self.name = name
            self.relativeError = relativeError
            self.passed = passed
        }
    }

    /// Relative L2 error bound: Winograd's float32 error at these sizes is about 3e-6.
    static let tolerance = 1e-4

    package static func run(on context: CLContext) throws -> [Result] {
        let k = try Kernels(context: context)
        var rng = SplitMix64(seed: 5)
        func random(_ n: Int, _ scale: Float = 1) -> [Float] { rng.floats(n, scale: scale) }
        func error(_ got: [Float], _ want: [Double]) -> Double {
            var num = 0.0, den = 0.0
            for (g, w) in zip(got, want) { num += (Double(g) - w) * (Double(g) - w); den += w * w }
            return (num / max(den, 1e-30)).squareRoot()
        }
        var results: [Result] = []
        func record(_ name: String, _ got: [Float], _ want: [Double]) {
            let e = got.count == want.count ? error(got, want) : .infinity
            results.append(Result(name: name, relativeError: e, passed: e <= tolerance))
        }

        // Convolutions: 20 → 24 channels on 13x37 (ragged tiles and vectors), ReLU fused.
        let (cin, cout, h, w) = (20, 24, 13, 37)
        let x = random(cin * h * w), wt = random(cout * cin * 9, 0.3), b = random(cout, 0.1), g = random(cout * h * w)
        let conv = conv3x3(x, wt, b, cin: cin, cout: cout, h: h, w: w).map { max($0, 0) }
        let positive = conv.map { $0 > 0 }
        let backward = conv3x3Backward(zip(g, positive).map { $1 ? $0 : 0 }, wt, cin: cin, cout: cout, h: h, w: w)
        let input = try context.buffer(x), bias = try context.buffer(ConvLayout.paddedBias(b)), out = try context.buffer(floats: cout * h * w)
        let mask = try context.buffer(floats: Kernels.rowMaskBytes(channels: cout, height: h, width: w) / 4)
        let gx = try context.buffer(floats: cin * h * w), zero = try context.buffer([Float](repeating: 0, count: cin.roundedUp(to: Kernels.convOCB)))
        try k.conv3x3(input: input, weights: context.buffer(ConvLayout.forward(wt, cout: cout, cin: cin)), bias: bias, output: out,
                      cin: cin, cout: cout, height: h, width: w, reluMask: mask)
        record("conv3x3 direct + ReLU", try out.read(count: cout * h * w), conv)
        try k.conv3x3(input: context.buffer(g), weights: context.buffer(ConvLayout.backwardData(wt, cout: cout, cin: cin)), bias: zero,
                      output: gx, cin: cout, cout: cin, height: h, width: w, inputMask: mask)
        record("conv3x3 direct backward through the mask", try gx.read(count: cin * h * w), backward)
        let scratch = WinogradScratch(maxTiles: 64)
        let torchWeights = try context.buffer(wt)
        _ = try k.winogradConv(input: input, weights: torchWeights, flipped: false, bias: bias, output: out,
                               cin: cin, cout: cout, height: h, width: w, reluMask: mask, scratch: scratch)
        record("Winograd F(4x4,3x3) + ReLU", try out.read(count: cout * h * w), conv)
        _ = try k.winogradConv(input: context.buffer(g), weights: torchWeights, flipped: true, bias: zero, output: gx,
                               cin: cout, cout: cin, height: h, width: w, inputMask: mask, scratch: scratch)
        record("Winograd backward through the mask", try gx.read(count: cin * h * w), backward)

        // Gram matrix and its backward at a real style layer's width, 12 columns past a block.
        let (c, n) = (512, 44)
        let f = random(c * n)
        var gram = [Double](repeating: 0, count: c * c)
        for i in 0..<c { for j in 0..<c { var s = 0.0; for t in 0..<n { s += Double(f[i * n + t]) * Double(f[j * n + t]) }; gram[i * c + j] = s / Double(c * n) } }
        let fb = try context.buffer(f), gb = try context.buffer(floats: c * c)
        _ = try k.gram(fb, into: gb, scratch: context.buffer(floats: Kernels.gramScratchCount(c: c, n: n)), channels: c, count: n, scale: 1 / Float(c * n))
        record("Gram matrix (512 channels)", try gb.read(count: c * c), gram)
        let sRaw = random(c * c), s = (0..<(c * c)).map { sRaw[($0 / c) * c + $0 % c] + sRaw[($0 % c) * c + $0 / c] }
        var sf = [Double](repeating: 0, count: c * n)
        for i in 0..<c { for j in 0..<c { let sij = Double(s[i * c + j]); if sij != 0 { for t in 0..<n { sf[i * n + t] += sij * Double(f[j * n + t]) } } } }
        let gf = try context.buffer(floats: c * n)
        try k.gramBackward(s: context.buffer(s), f: fb, gradF: gf, channels: c, count: n, accumulate: false)
        record("Gram backward (512 channels, ragged)", try gf.read(count: c * n), sf)

        // Max pooling on an odd map (the last row and column are dropped).
        let (pc, ph, pw) = (3, 9, 11)
        let p = random(pc * ph * pw)
        var pooled: [Double] = []
        for ch in 0..<pc { for y in 0..<(ph / 2) { for xx in 0..<(pw / 2) {
            let at = { (dy: Int, dx: Int) in Double(p[(ch * ph + 2 * y + dy) * pw + 2 * xx + dx]) }
            pooled.append(max(at(0, 0), at(0, 1), at(1, 0), at(1, 1)))
        } } }
        let po = try context.buffer(floats: pooled.count)
        try k.maxPool(context.buffer(p), into: po, argmax: context.buffer(floats: pooled.count.divRoundUp(4)), channels: pc, height: ph, width: pw)
        record("max pooling", try po.read(count: pooled.count), pooled)
        return results
    }

    static func conv3x3(_ x: [Float], _ wt: [Float], _ b: [Float], cin: Int, cout: Int, h: Int, w: Int) -> [Double] {
        var out = [Double](repeating: 0, count: cout * h * w)
        for o in 0..<cout { for y in 0..<h { for xx in 0..<w {
            var s = Double(b[o])
            for i in 0..<cin { for ky in 0..<3 { for kx in 0..<3 {
                let yy = y + ky - 1, xq = xx + kx - 1
                if yy >= 0 && yy < h && xq >= 0 && xq < w { s += Double(wt[((o * cin + i) * 3 + ky) * 3 + kx]) * Double(x[(i * h + yy) * w + xq]) }
            } } }
            out[(o * h + y) * w + xx] = s
        } } }
        return out
    }

    /// ∂/∂x of Σ g·conv3x3(x): the transposed convolution.
    static func conv3x3Backward(_ g: [Float], _ wt: [Float], cin: Int, cout: Int, h: Int, w: Int) -> [Double] {
        var out = [Double](repeating: 0, count: cin * h * w)
        for o in 0..<cout { for y in 0..<h { for xx in 0..<w {
            let gv = Double(g[(o * h + y) * w + xx])
            if gv == 0 { continue }
            for i in 0..<cin { for ky in 0..<3 { for kx in 0..<3 {
                let yy = y + ky - 1, xq = xx + kx - 1
                if yy >= 0 && yy < h && xq >= 0 && xq < w { out[(i * h + yy) * w + xq] += Double(wt[((o * cin + i) * 3 + ky) * 3 + kx]) * gv }
            } } }
        } } }
        return out
    }
}
