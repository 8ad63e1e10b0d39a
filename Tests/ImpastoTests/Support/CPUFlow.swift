import Foundation
@testable import Impasto

/// Plain Swift references of the optical-flow, warp, consistency and temporal kernels, written
/// from their definitions (the comments of cl/flow_*.cl, cl/warp.cl, cl/temporal.cl) in Float
/// with the kernels' order of operations, and of the whole coarse-to-fine flow built on them.
enum CPUFlow {
    static func bilinear(_ p: [Float], _ w: Int, _ h: Int, _ x: Float, _ y: Float, offset: Int = 0) -> Float {
        let x = min(max(x, 0), Float(w - 1)), y = min(max(y, 0), Float(h - 1))
        let x0 = Int(x), y0 = Int(y), x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
        let fx = x - Float(x0), fy = y - Float(y0)
        let top = p[offset + y0 * w + x0] * (1 - fx) + p[offset + y0 * w + x1] * fx
        let bottom = p[offset + y1 * w + x0] * (1 - fx) + p[offset + y1 * w + x1] * fx
        return top * (1 - fy) + bottom * fy
    }

    static func gray(_ rgb: [Float]) -> [Float] {
        (0..<(rgb.count / 3)).map { i in 255 * (0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2]) }
    }

    static func pyrDown(_ p: [Float], _ w: Int, _ h: Int) -> [Float] {
        let (ow, oh) = ((w + 1) / 2, (h + 1) / 2)
        let k: [Float] = [1, 4, 6, 4, 1]
        var out = [Float](repeating: 0, count: ow * oh)
        for y in 0..<oh { for x in 0..<ow {
            var acc: Float = 0
            for dy in -2...2 {
                let yy = min(max(2 * y + dy, 0), h - 1)
                var row: Float = 0
                for dx in -2...2 { row += k[dx + 2] * p[yy * w + min(max(2 * x + dx, 0), w - 1)] }
                acc += k[dy + 2] * row
            }
            out[y * ow + x] = acc / 256
        } }
        return out
    }

    static func upsample(_ c: [Float], _ cw: Int, _ ch: Int, _ fw: Int, _ fh: Int) -> [Float] {
        var out = [Float](repeating: 0, count: 2 * fw * fh)
        let sx = Float(cw) / Float(fw), sy = Float(ch) / Float(fh)
        for y in 0..<fh { for x in 0..<fw {
            let cx = (Float(x) + 0.5) * sx - 0.5, cy = (Float(y) + 0.5) * sy - 0.5
            out[y * fw + x] = bilinear(c, cw, ch, cx, cy) / sx
            out[fw * fh + y * fw + x] = bilinear(c, cw, ch, cx, cy, offset: cw * ch) / sy
        } }
        return out
    }

    static func linearize(_ a: [Float], _ b: [Float], _ w: Int, _ h: Int, _ flow: [Float]) -> [Float] {
        let n = w * h
        var t = [Float](repeating: 0, count: 5 * n)
        for y in 0..<h { for x in 0..<w {
            let i = y * w + x, u = flow[i], v = flow[n + i]
            let px = Float(x) + u, py = Float(y) + v
            var ix: Float = 0, iy: Float = 0, it: Float = 0
            if px >= 0 && px <= Float(w - 1) && py >= 0 && py <= Float(h - 1) {
                let axd = 0.5 * (a[y * w + min(x + 1, w - 1)] - a[y * w + max(x - 1, 0)])
                let ayd = 0.5 * (a[min(y + 1, h - 1) * w + x] - a[max(y - 1, 0) * w + x])
                let bxd = 0.5 * (bilinear(b, w, h, px + 1, py) - bilinear(b, w, h, px - 1, py))
                let byd = 0.5 * (bilinear(b, w, h, px, py + 1) - bilinear(b, w, h, px, py - 1))
                ix = 0.5 * (axd + bxd); iy = 0.5 * (ayd + byd)
                it = bilinear(b, w, h, px, py) - a[i]
            }
            t[i] = ix; t[n + i] = iy; t[2 * n + i] = it; t[3 * n + i] = u; t[4 * n + i] = v
        } }
        return t
    }

    /// One red-black sweep, red (even x + y) first, in place.
    static func sorSweep(_ flow: inout [Float], _ t: [Float], _ w: Int, _ h: Int, alpha2: Float, omega: Float) {
        let n = w * h
        for parity in 0..<2 { for y in 0..<h { for x in 0..<w where (x + y) & 1 == parity {
            let i = y * w + x
            var su: Float = 0, sv: Float = 0, count: Float = 0
            if x > 0 { su += flow[i - 1]; sv += flow[n + i - 1]; count += 1 }
            if x + 1 < w { su += flow[i + 1]; sv += flow[n + i + 1]; count += 1 }
            if y > 0 { su += flow[i - w]; sv += flow[n + i - w]; count += 1 }
            if y + 1 < h { su += flow[i + w]; sv += flow[n + i + w]; count += 1 }
            let ix = t[i], iy = t[n + i], it = t[2 * n + i], u0 = t[3 * n + i], v0 = t[4 * n + i]
            let k = alpha2 * count
            let r = it - ix * u0 - iy * v0
            let bu = alpha2 * su - ix * r, bv = alpha2 * sv - iy * r
            let a11 = ix * ix + k, a22 = iy * iy + k, a12 = ix * iy
            let det = a11 * a22 - a12 * a12
            let gu = (a22 * bu - a12 * bv) / det, gv = (a11 * bv - a12 * bu) / det
            flow[i] = (1 - omega) * flow[i] + omega * gu
            flow[n + i] = (1 - omega) * flow[n + i] + omega * gv
        } } }
    }

    static func median(_ f: [Float], _ w: Int, _ h: Int) -> [Float] {
        let n = w * h
        var out = f
        for plane in 0..<2 { for y in 0..<h { for x in 0..<w {
            var s: [Float] = []
            for dy in -1...1 { for dx in -1...1 { s.append(f[plane * n + min(max(y + dy, 0), h - 1) * w + min(max(x + dx, 0), w - 1)]) } }
            out[plane * n + y * w + x] = s.sorted()[4]
        } } }
        return out
    }

    static func warp(_ p: [Float], channels: Int, _ w: Int, _ h: Int, _ flow: [Float]) -> [Float] {
        let n = w * h
        var out = [Float](repeating: 0, count: channels * n)
        for y in 0..<h { for x in 0..<w {
            let i = y * w + x
            let px = min(max(Float(x) + flow[i], 0), Float(w - 1)), py = min(max(Float(y) + flow[n + i], 0), Float(h - 1))
            let x0 = Int(px), y0 = Int(py), x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
            let fx = px - Float(x0), fy = py - Float(y0)
            for c in 0..<channels {
                let top = p[(y0 * w + x0) * channels + c] * (1 - fx) + p[(y0 * w + x1) * channels + c] * fx
                let bottom = p[(y1 * w + x0) * channels + c] * (1 - fx) + p[(y1 * w + x1) * channels + c] * fx
                out[i * channels + c] = top * (1 - fy) + bottom * fy
            }
        } }
        return out
    }

    static func consistency(backward b: [Float], forward f: [Float], _ w: Int, _ h: Int) -> [Float] {
        let n = w * h
        func derivative(_ p: [Float], _ i: Int, _ t: Int, _ len: Int, _ step: Int) -> Float {
            if len < 2 { return 0 }
            if t == 0 { return p[i + step] - p[i] }
            if t == len - 1 { return p[i] - p[i - step] }
            return 0.5 * (p[i + step] - p[i - step])
        }
        var out = [Float](repeating: 0, count: n)
        for y in 0..<h { for x in 0..<w {
            let i = y * w + x, bu = b[i], bv = b[n + i]
            let px = Float(x) + bu, py = Float(y) + bv
            var ok: Float = 1
            if px < 0 || px > Float(w - 1) || py < 0 || py > Float(h - 1) {
                ok = 0
            } else {
                let fu = bilinear(f, w, h, px, py), fv = bilinear(f, w, h, px, py, offset: n)
                let du = bu + fu, dv = bv + fv
                if du * du + dv * dv > 0.01 * (bu * bu + bv * bv + fu * fu + fv * fv) + 0.5 { ok = 0 }
                let bvPlane = Array(b[n...])
                let ux = derivative(b, i, x, w, 1), uy = derivative(b, i, y, h, w)
                let vx = derivative(bvPlane, i, x, w, 1), vy = derivative(bvPlane, i, y, h, w)
                if ux * ux + uy * uy + vx * vx + vy * vy > 0.01 * (bu * bu + bv * bv) + 0.002 { ok = 0 }
            }
            out[i] = ok
        } }
        return out
    }

    /// The whole coarse-to-fine flow of `OpticalFlow`, from these references.
    static func flow(_ a: RGBImage, _ b: RGBImage, settings s: FlowSettings) -> [Float] {
        let levels = OpticalFlow.levels(width: a.width, height: a.height, coarsestSide: s.coarsestSide)
        var pa = [gray(a.pixels)], pb = [gray(b.pixels)]
        for l in 1..<levels.count {
            pa.append(pyrDown(pa[l - 1], levels[l - 1].width, levels[l - 1].height))
            pb.append(pyrDown(pb[l - 1], levels[l - 1].width, levels[l - 1].height))
        }
        var flow: [Float] = []
        for l in (0..<levels.count).reversed() {
            let (w, h) = levels[l]
            flow = l == levels.count - 1 ? [Float](repeating: 0, count: 2 * w * h)
                : upsample(flow, levels[l + 1].width, levels[l + 1].height, w, h)
            for _ in 0..<s.warps {
                let t = linearize(pa[l], pb[l], w, h, flow)
                for _ in 0..<s.sweeps { sorSweep(&flow, t, w, h, alpha2: s.alpha * s.alpha, omega: s.omega) }
                if s.median { flow = median(flow, w, h) }
            }
        }
        return flow
    }

    /// The temporal loss and its gradient in double precision: scale Σ c (x − t)², 2 scale c (x − t).
    static func temporal(_ x: [Double], _ t: [Double], _ c: [Double], scale: Double) -> (Double, [Double]) {
        let n = c.count
        var loss = 0.0, g = [Double](repeating: 0, count: x.count)
        for e in 0..<x.count {
            let d = x[e] - t[e]
            loss += c[e % n] * d * d
            g[e] = 2 * scale * c[e % n] * d
        }
        return (scale * loss, g)
    }
}
