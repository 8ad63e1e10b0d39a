import Foundation

/// Pictures with known motion, made from photos: the measure of optical flow (end-point
/// error) and of temporal consistency (`impasto video-check`, the tests). Motion is sampled
/// bilinearly from the source, so the second picture is exactly the first moved.
package enum SyntheticMotion {
    package enum Kind: String, CaseIterable, Sendable {
        case translation, rotation, zoom
        /// A rectangle of another photo moving over a still background.
        case object
    }

    /// Two pictures and the true flow from `a` to `b`; `valid` where it is defined (the pixel
    /// stays inside the picture and is not covered in `b`).
    package struct Pair {
        package let a, b: RGBImage
        package let truth: FlowField
        package let valid: [Bool]
    }

    /// A frame sequence and, for each frame after the first, the true backward flow (to the
    /// frame before) and where it is defined.
    package struct Clip {
        package let frames: [RGBImage]
        package let backward: [FlowField]
        package let valid: [[Bool]]
    }

    /// `p` at a real position, bilinear, clamped to the picture.
    static func sample(_ p: RGBImage, _ x: Double, _ y: Double) -> (Float, Float, Float) {
        let x = min(max(x, 0), Double(p.width - 1)), y = min(max(y, 0), Double(p.height - 1))
        let x0 = Int(x), y0 = Int(y), x1 = min(x0 + 1, p.width - 1), y1 = min(y0 + 1, p.height - 1)
        let fx = Float(x - Double(x0)), fy = Float(y - Double(y0))
        func at(_ xx: Int, _ yy: Int, _ c: Int) -> Float { p.pixels[(yy * p.width + xx) * 3 + c] }
        func channel(_ c: Int) -> Float {
            (at(x0, y0, c) * (1 - fx) + at(x1, y0, c) * fx) * (1 - fy) + (at(x0, y1, c) * (1 - fx) + at(x1, y1, c) * fx) * fy
        }
        return (channel(0), channel(1), channel(2))
    }

    static func picture(_ w: Int, _ h: Int, _ f: (Int, Int) -> (Float, Float, Float)) -> RGBImage {
        var px = [Float](repeating: 0, count: 3 * w * h)
        for y in 0..<h { for x in 0..<w {
            let (r, g, b) = f(x, y)
            px[(y * w + x) * 3] = r; px[(y * w + x) * 3 + 1] = g; px[(y * w + x) * 3 + 2] = b
        } }
        return RGBImage(width: w, height: h, pixels: px)
    }

    /// The motion of each kind at a picture size: a sub-pixel translation of about 2% of the
    /// picture, a 2° rotation and a 3% zoom about the centre, an object a quarter of the
    /// picture across moving about 1.5% of it.
    package static func pair(_ kind: Kind, photo: RGBImage, object: RGBImage, width w: Int, height h: Int) -> Pair {
        let a0 = photo.resized(width: w, height: h)
        let cx = Double(w - 1) / 2, cy = Double(h - 1) / 2
        func inside(_ x: Double, _ y: Double) -> Bool { x >= 0 && y >= 0 && x <= Double(w - 1) && y <= Double(h - 1) }
        var truth = [Float](repeating: 0, count: 2 * w * h), valid = [Bool](repeating: false, count: w * h)
        switch kind {
        case .translation, .rotation, .zoom:
            // T(p) = c + M (p - c) + t; b(q) = a(T⁻¹(q)).
            var m = (1.0, 0.0, 0.0, 1.0), t = (0.0, 0.0)
            switch kind {
            case .translation: t = (0.02 * Double(w) + 0.27, -0.0125 * Double(h) - 0.31)
            case .rotation: let r = 2.0 * Double.pi / 180; m = (cos(r), -sin(r), sin(r), cos(r))
            default: m = (1.03, 0, 0, 1.03)
            }
            let det = m.0 * m.3 - m.1 * m.2
            let inv = (m.3 / det, -m.1 / det, -m.2 / det, m.0 / det)
            let b = picture(w, h) { x, y in
                let dx = Double(x) - cx - t.0, dy = Double(y) - cy - t.1
                return sample(a0, cx + inv.0 * dx + inv.1 * dy, cy + inv.2 * dx + inv.3 * dy)
            }
            for y in 0..<h { for x in 0..<w {
                let dx = Double(x) - cx, dy = Double(y) - cy
                let tx = cx + m.0 * dx + m.1 * dy + t.0, ty = cy + m.2 * dx + m.3 * dy + t.1
                truth[y * w + x] = Float(tx - Double(x)); truth[w * h + y * w + x] = Float(ty - Double(y))
                valid[y * w + x] = inside(tx, ty)
            } }
            return Pair(a: a0, b: b, truth: FlowField(width: w, height: h, values: truth), valid: valid)
        case .object:
            let ow = w / 4, oh = h / 4
            let patch = object.resized(width: ow, height: oh)
            let origin = (Double(w) * 0.3, Double(h) * 0.35)
            let d = (0.015 * Double(w) + 0.4, 0.01 * Double(h) + 0.3)
            func inObject(_ x: Double, _ y: Double, _ o: (Double, Double)) -> Bool {
                x >= o.0 && y >= o.1 && x <= o.0 + Double(ow - 1) && y <= o.1 + Double(oh - 1)
            }
            func frame(_ o: (Double, Double)) -> RGBImage {
                picture(w, h) { x, y in
                    inObject(Double(x), Double(y), o) ? sample(patch, Double(x) - o.0, Double(y) - o.1) : sample(a0, Double(x), Double(y))
                }
            }
            let moved = (origin.0 + d.0, origin.1 + d.1)
            for y in 0..<h { for x in 0..<w {
                let (fx, fy) = (Double(x), Double(y))
                if inObject(fx, fy, origin) {
                    truth[y * w + x] = Float(d.0); truth[w * h + y * w + x] = Float(d.1)
                    valid[y * w + x] = inside(fx + d.0, fy + d.1)
                } else {
                    valid[y * w + x] = !inObject(fx, fy, moved)
                }
            } }
            return Pair(a: frame(origin), b: frame(moved), truth: FlowField(width: w, height: h, values: truth), valid: valid)
        }
    }

    /// `count` frames of a pan over `photo` (about 1% of the width and 0.5% of the height
    /// per frame) with a rectangle of `object` crossing it (about 1.5% and 0.8% per frame).
    package static func clip(photo: RGBImage, object: RGBImage, width w: Int, height h: Int, count: Int) -> Clip {
        let pan = (0.01 * Double(w) + 0.13, 0.005 * Double(h) + 0.07)
        let speed = (0.015 * Double(w) + 0.21, -0.008 * Double(h) - 0.11)
        let big = photo.resized(width: w + Int((pan.0 * Double(count)).rounded(.up)) + 2,
                                height: h + Int((pan.1 * Double(count)).rounded(.up)) + 2)
        let ow = w / 4, oh = h / 4
        let patch = object.resized(width: ow, height: oh)
        func objectOrigin(_ k: Int) -> (Double, Double) { (0.15 * Double(w) + speed.0 * Double(k), 0.55 * Double(h) + speed.1 * Double(k)) }
        func inObject(_ x: Double, _ y: Double, _ o: (Double, Double)) -> Bool {
            x >= o.0 && y >= o.1 && x <= o.0 + Double(ow - 1) && y <= o.1 + Double(oh - 1)
        }
        var frames: [RGBImage] = [], backward: [FlowField] = [], valid: [[Bool]] = []
        for k in 0..<count {
            let o = objectOrigin(k)
            frames.append(picture(w, h) { x, y in
                inObject(Double(x), Double(y), o) ? sample(patch, Double(x) - o.0, Double(y) - o.1)
                    : sample(big, Double(x) + pan.0 * Double(k), Double(y) + pan.1 * Double(k))
            })
            guard k > 0 else { continue }
            let before = objectOrigin(k - 1)
            var flow = [Float](repeating: 0, count: 2 * w * h), ok = [Bool](repeating: false, count: w * h)
            for y in 0..<h { for x in 0..<w {
                let (fx, fy) = (Double(x), Double(y))
                let (u, v, defined): (Double, Double, Bool)
                if inObject(fx, fy, o) {
                    (u, v, defined) = (-speed.0, -speed.1, true)
                } else {
                    // The background's point was covered by the object in the frame before.
                    (u, v, defined) = (pan.0, pan.1, !inObject(fx + pan.0, fy + pan.1, before))
                }
                flow[y * w + x] = Float(u); flow[w * h + y * w + x] = Float(v)
                ok[y * w + x] = defined && fx + u >= 0 && fy + v >= 0 && fx + u <= Double(w - 1) && fy + v <= Double(h - 1)
            } }
            backward.append(FlowField(width: w, height: h, values: flow))
            valid.append(ok)
        }
        return Clip(frames: frames, backward: backward, valid: valid)
    }

    /// Where a picture has texture to measure flow by: the mean gradient magnitude of its
    /// grey levels (0…255) over a 7×7 window at least `threshold`.
    package static func textured(_ p: RGBImage, threshold: Float = 4) -> [Bool] {
        let w = p.width, h = p.height
        var grey = [Float](repeating: 0, count: w * h)
        for i in 0..<(w * h) { grey[i] = 255 * (0.299 * p.pixels[3 * i] + 0.587 * p.pixels[3 * i + 1] + 0.114 * p.pixels[3 * i + 2]) }
        var mag = [Float](repeating: 0, count: w * h)
        for y in 0..<h { for x in 0..<w {
            let gx = 0.5 * (grey[y * w + min(x + 1, w - 1)] - grey[y * w + max(x - 1, 0)])
            let gy = 0.5 * (grey[min(y + 1, h - 1) * w + x] - grey[max(y - 1, 0) * w + x])
            mag[y * w + x] = (gx * gx + gy * gy).squareRoot()
        } }
        var out = [Bool](repeating: false, count: w * h)
        for y in 0..<h { for x in 0..<w {
            var s: Float = 0, n: Float = 0
            for yy in max(0, y - 3)...min(h - 1, y + 3) { for xx in max(0, x - 3)...min(w - 1, x + 3) { s += mag[yy * w + xx]; n += 1 } }
            out[y * w + x] = s / n >= threshold
        } }
        return out
    }

    /// The mean end-point error of `flow` against `truth` where `mask` holds (nil: none does).
    package static func endPointError(_ flow: FlowField, _ truth: FlowField, mask: [Bool]) -> Double? {
        var sum = 0.0, n = 0
        let count = flow.width * flow.height
        for i in 0..<count where mask[i] {
            let du = Double(flow.values[i] - truth.values[i]), dv = Double(flow.values[count + i] - truth.values[count + i])
            sum += (du * du + dv * dv).squareRoot()
            n += 1
        }
        return n == 0 ? nil : sum / Double(n)
    }

    /// The temporal error of stylized frames of a clip: the mean over frames after the first of
    /// |previous frame warped by the true flow − this frame|, in 8-bit levels, over the pixels
    /// where the true flow is defined (averaged over the channels).
    package static func temporalError(_ frames: [RGBImage], clip: Clip) -> Double {
        var total = 0.0, count = 0
        for k in 1..<frames.count {
            let flow = clip.backward[k - 1], cur = frames[k], prev = frames[k - 1]
            let w = cur.width, h = cur.height
            for y in 0..<h { for x in 0..<w where clip.valid[k - 1][y * w + x] {
                let (r, g, b) = sample(prev, Double(x) + Double(flow.u(x, y)), Double(y) + Double(flow.v(x, y)))
                let i = (y * w + x) * 3
                total += 255 * Double(abs(r - cur.pixels[i]) + abs(g - cur.pixels[i + 1]) + abs(b - cur.pixels[i + 2])) / 3
                count += 1
            } }
        }
        return count == 0 ? 0 : total / Double(count)
    }
}
