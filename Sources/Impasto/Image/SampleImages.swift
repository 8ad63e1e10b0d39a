import Foundation

/// Two pictures the program paints itself, for a demo on a machine with no images at hand:
/// a small landscape (content) and a swirling night sky of brush strokes (style).
package enum SampleImages {
    /// Hills under a sky with a sun, a house with a red roof, a lake.
    package static func landscape(width w: Int = 512, height h: Int = 384) -> RGBImage {
        var px = [Float](repeating: 0, count: w * h * 3)
        func set(_ x: Int, _ y: Int, _ c: (Float, Float, Float)) {
            let i = (y * w + x) * 3
            px[i] = c.0; px[i + 1] = c.1; px[i + 2] = c.2
        }
        for y in 0..<h {
            for x in 0..<w {
                let u = Float(x) / Float(w), v = Float(y) / Float(h)
                var c: (Float, Float, Float) = (0.45 + 0.3 * v, 0.65 + 0.2 * v, 0.95)  // sky
                let sun = hypot(u - 0.78, (v - 0.2) * Float(h) / Float(w))
                if sun < 0.07 { c = (1, 0.9, 0.45) } else if sun < 0.1 { c = (0.95, 0.85, 0.6) }
                let far = 0.55 + 0.06 * sin(u * 9) + 0.03 * sin(u * 23 + 1)
                let near = 0.68 + 0.05 * sin(u * 5 + 2)
                if v > far { c = (0.3, 0.5, 0.35) }
                if v > near { c = (0.25 + 0.1 * sin(u * 40) * 0.2, 0.55, 0.2) }
                if v > 0.85 { c = (0.2, 0.35 + 0.05 * sin(u * 60 + v * 30), 0.6) }  // lake
                // The house: walls, roof, a door and two windows.
                if u > 0.22 && u < 0.4 && v > 0.55 && v < 0.75 { c = (0.92, 0.88, 0.78) }
                let roof = 0.55 - (0.1 - abs(u - 0.31) * 0.9)
                if u > 0.2 && u < 0.42 && v > roof && v <= 0.55 { c = (0.7, 0.15, 0.12) }
                if (abs(u - 0.26) < 0.02 || abs(u - 0.36) < 0.02) && abs(v - 0.61) < 0.025 { c = (0.2, 0.3, 0.5) }
                if abs(u - 0.31) < 0.018 && v > 0.66 && v < 0.75 { c = (0.4, 0.25, 0.12) }
                set(x, y, c)
            }
        }
        return RGBImage(width: w, height: h, pixels: px)
    }

    /// Deep blues and yellows in swirling strokes: a style with strong texture and colour.
    package static func swirls(width w: Int = 512, height h: Int = 384, seed: UInt64 = 7) -> RGBImage {
        var rng = SplitMix64(seed: seed)
        let centers = (0..<7).map { _ in (Float(rng.uniform()) * Float(w), Float(rng.uniform()) * Float(h), Float(rng.uniform()) * 0.5 + 0.5) }
        var px = [Float](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                var angle: Float = 0, glow: Float = 0
                for (cx, cy, s) in centers {
                    let dx = Float(x) - cx, dy = Float(y) - cy
                    let r = (dx * dx + dy * dy).squareRoot() + 1
                    angle += s * atan2(dy, dx) + r / 18
                    glow += s * 40 / r
                }
                let stroke = 0.5 + 0.5 * sin(angle * 3 + Float(x + y) * 0.02)
                let band = 0.5 + 0.5 * sin(angle * 7)
                let yellow = min(1, glow * 0.6) * stroke
                let i = (y * w + x) * 3
                px[i] = min(1, 0.08 + 0.15 * band + 0.85 * yellow)
                px[i + 1] = min(1, 0.15 + 0.25 * band + 0.7 * yellow)
                px[i + 2] = min(1, 0.35 + 0.45 * band * (1 - yellow) + 0.1 * stroke)
            }
        }
        return RGBImage(width: w, height: h, pixels: px)
    }
}
