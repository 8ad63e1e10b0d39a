import Foundation
@testable import Impasto

/// Plain, obviously-correct Swift versions of every kernel, in double precision, written from
/// the formulas in design.md. Layouts are PyTorch's: CHW images, [cout][cin][3][3] weights.
enum CPURef {
    static func conv3x3(_ x: [Double], _ wt: [Double], _ bias: [Double], cin: Int, cout: Int, h: Int, w: Int) -> [Double] {
        var out = [Double](repeating: 0, count: cout * h * w)
        for o in 0..<cout {
            for y in 0..<h {
                for xx in 0..<w {
                    var s = bias[o]
                    for i in 0..<cin {
                        for ky in 0..<3 {
                            for kx in 0..<3 {
                                let iy = y + ky - 1, ix = xx + kx - 1
                                if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                                s += wt[((o * cin + i) * 3 + ky) * 3 + kx] * x[(i * h + iy) * w + ix]
                            }
                        }
                    }
                    out[(o * h + y) * w + xx] = s
                }
            }
        }
        return out
    }

    /// ∂(Σ g·conv(x))/∂x, written directly as a scatter (not as the flipped convolution the
    /// kernel uses, so the two are independent).
    static func conv3x3BackwardData(_ g: [Double], _ wt: [Double], cin: Int, cout: Int, h: Int, w: Int) -> [Double] {
        var gx = [Double](repeating: 0, count: cin * h * w)
        for o in 0..<cout {
            for y in 0..<h {
                for xx in 0..<w {
                    let go = g[(o * h + y) * w + xx]
                    for i in 0..<cin {
                        for ky in 0..<3 {
                            for kx in 0..<3 {
                                let iy = y + ky - 1, ix = xx + kx - 1
                                if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                                gx[(i * h + iy) * w + ix] += wt[((o * cin + i) * 3 + ky) * 3 + kx] * go
                            }
                        }
                    }
                }
            }
        }
        return gx
    }

    static func maxPool(_ x: [Double], c: Int, h: Int, w: Int) -> [Double] {
        let ho = h / 2, wo = w / 2
        var out = [Double](repeating: 0, count: c * ho * wo)
        for ch in 0..<c { for oy in 0..<ho { for ox in 0..<wo {
            var m = -Double.infinity
            for dy in 0..<2 { for dx in 0..<2 { m = max(m, x[(ch * h + 2 * oy + dy) * w + 2 * ox + dx]) } }
            out[(ch * ho + oy) * wo + ox] = m
        } } }
        return out
    }

    static func maxPoolBackward(_ x: [Double], _ g: [Double], c: Int, h: Int, w: Int) -> [Double] {
        let ho = h / 2, wo = w / 2
        var gx = [Double](repeating: 0, count: c * h * w)
        for ch in 0..<c { for oy in 0..<ho { for ox in 0..<wo {
            var best = (0, 0), m = -Double.infinity
            for dy in 0..<2 { for dx in 0..<2 {
                let v = x[(ch * h + 2 * oy + dy) * w + 2 * ox + dx]
                if v > m { m = v; best = (dy, dx) }
            } }
            gx[(ch * h + 2 * oy + best.0) * w + 2 * ox + best.1] += g[(ch * ho + oy) * wo + ox]
        } } }
        return gx
    }

    /// gram(F) = F Fᵀ / (C N).
    static func gram(_ f: [Double], c: Int, n: Int) -> [Double] {
        var g = [Double](repeating: 0, count: c * c)
        for i in 0..<c { for j in 0..<c {
            var s = 0.0
            for t in 0..<n { s += f[i * n + t] * f[j * n + t] }
            g[i * c + j] = s / Double(c * n)
        } }
        return g
    }

    static func mse(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(a.count)
    }

    /// weight · mean((gram(F) − target)²)
    static func styleLoss(_ f: [Double], target: [Double], c: Int, n: Int, weight: Double) -> Double {
        weight * mse(gram(f, c: c, n: n), target)
    }

    /// The seed's TV: 0.5 (mean |vertical diff| + mean |horizontal diff|) times weight.
    static func tv(_ x: [Double], c: Int, h: Int, w: Int, weight: Double) -> Double {
        var v = 0.0, hz = 0.0
        for ch in 0..<c { for i in 0..<h { for j in 0..<w {
            let e = (ch * h + i) * w + j
            if i + 1 < h { v += abs(x[e + w] - x[e]) }
            if j + 1 < w { hz += abs(x[e + 1] - x[e]) }
        } } }
        return weight * 0.5 * (v / Double(c * (h - 1) * w) + hz / Double(c * h * (w - 1)))
    }

    /// Central finite differences of `f` at `x`, for the listed coordinates.
    static func numericGradient(_ x: [Double], at indices: [Int], step: Double = 1e-6, _ f: ([Double]) -> Double) -> [Double] {
        indices.map { i in
            var xp = x, xm = x
            xp[i] += step
            xm[i] -= step
            return (f(xp) - f(xm)) / (2 * step)
        }
    }
}

extension Array where Element == Float {
    var doubles: [Double] { map(Double.init) }
}

extension Array where Element == Double {
    var floats: [Float] { map(Float.init) }
}

/// The whole objective on the CPU in double precision: VGG19 features with the loss ops
/// attached where `WholeImageObjective` attaches them. Slow, for tiny nets only.
struct CPUStyleObjective {
    let weights: VGGWeights
    let config: LossConfig
    var lossWeights = LossWeights.seed
    let h, w: Int
    var styleTargets: [Int: [Double]] = [:]
    var contentTargets: [Int: [Double]] = [:]

    /// Module outputs 0…last with their shapes (c, h, w).
    func features(_ x: [Double]) -> [Int: ([Double], Int, Int, Int)] {
        var out: [Int: ([Double], Int, Int, Int)] = [:]
        var cur = x, c = 3, hh = h, ww = w
        let last = (config.styleLayers + config.contentLayers).max()!
        for i in 0...last {
            if let cw = weights.convs[i] {
                cur = CPURef.conv3x3(cur, cw.weight.doubles, cw.bias.doubles, cin: c, cout: cw.cout, h: hh, w: ww)
                c = cw.cout
            } else if VGG19.poolIndices.contains(i) {
                cur = CPURef.maxPool(cur, c: c, h: hh, w: ww)
                hh /= 2; ww /= 2
            } else {
                cur = cur.map { max($0, 0) }
            }
            out[i] = (cur, c, hh, ww)
        }
        return out
    }

    mutating func setTargets(style: [Double], content: [Double]) {
        let fs = features(style), fc = features(content)
        for l in config.styleLayers { let (f, c, hh, ww) = fs[l]!; styleTargets[l] = CPURef.gram(f, c: c, n: hh * ww) }
        for l in config.contentLayers { contentTargets[l] = fc[l]!.0 }
    }

    func loss(_ x: [Double]) -> (content: Double, style: Double, tv: Double) {
        let f = features(x)
        let content = config.contentLayers.reduce(0.0) { $0 + Double(lossWeights.content) * CPURef.mse(f[$1]!.0, contentTargets[$1]!) }
        let style = config.styleLayers.reduce(0.0) { acc, l in
            let (fl, c, hh, ww) = f[l]!
            return acc + CPURef.styleLoss(fl, target: styleTargets[l]!, c: c, n: hh * ww, weight: Double(lossWeights.style))
        }
        return (content, style, CPURef.tv(x, c: 3, h: h, w: w, weight: Double(lossWeights.tv)))
    }
}

/// Bilinear resize of a 3-plane image sampling at pixel centres, clamped at the edges: how
/// Adam's moments follow X to the next scale (the host code the device resample replaced).
func hostBilinear(_ a: [Float], _ w: Int, _ h: Int, _ nw: Int, _ nh: Int) -> [Float] {
    func taps(_ n: Int, _ size: Int) -> [(Int, Int, Float)] {
        (0..<n).map { i in
            let s = min(max((Double(i) + 0.5) * Double(size) / Double(n) - 0.5, 0), Double(size - 1))
            let i0 = Int(s), i1 = min(i0 + 1, size - 1)
            return (i0, i1, Float(s - Double(i0)))
        }
    }
    let xs = taps(nw, w), ys = taps(nh, h)
    var out = [Float](repeating: 0, count: 3 * nw * nh)
    for c in 0..<3 {
        for (y, (y0, y1, fy)) in ys.enumerated() {
            for (x, (x0, x1, fx)) in xs.enumerated() {
                let p = c * w * h
                let top = a[p + y0 * w + x0] * (1 - fx) + a[p + y0 * w + x1] * fx
                let bottom = a[p + y1 * w + x0] * (1 - fx) + a[p + y1 * w + x1] * fx
                out[c * nw * nh + y * nw + x] = top * (1 - fy) + bottom * fy
            }
        }
    }
    return out
}
