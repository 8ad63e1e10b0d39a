import Foundation

/// An RGB picture in memory: interleaved values in [0, 1], row-major, top row first.
public struct RGBImage: Equatable, Sendable {
    public let width, height: Int
    public package(set) var pixels: [Float]

    /// A picture of `width`×`height` from its values (3 per pixel, in [0, 1]); a count that
    /// does not match is a `SettingError` naming `pixels`.
    public init(width: Int, height: Int, values: [Float]) throws {
        guard width > 0, height > 0, values.count == width * height * 3 else {
            throw SettingError("pixels", "has \(values.count) values for a \(width)x\(height) RGB picture, not \(max(0, width) * max(0, height) * 3)")
        }
        self.init(width: width, height: height, pixels: values)
    }

    /// A picture from 8-bit RGB bytes (3 per pixel).
    public init(width: Int, height: Int, rgb: [UInt8]) throws {
        try self.init(width: width, height: height, values: rgb.map { Float($0) / 255 })
    }

    package init(width: Int, height: Int, pixels: [Float]) {
        precondition(pixels.count == width * height * 3, "\(pixels.count) values for \(width)x\(height) RGB")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    package init(width: Int, height: Int, bytes: UnsafeBufferPointer<UInt8>) {
        self.init(width: width, height: height, pixels: bytes.map { Float($0) / 255 })
    }

    /// 8-bit values, rounded, clamped.
    public var bytes: [UInt8] { pixels.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) } }

    /// Applies an EXIF orientation (1…8) so the picture stands as the camera meant it.
    public func oriented(_ orientation: Int) -> RGBImage {
        guard (2...8).contains(orientation) else { return self }
        let swap = orientation >= 5
        let (ow, oh) = swap ? (height, width) : (width, height)
        var out = [Float](repeating: 0, count: pixels.count)
        for y in 0..<oh {
            for x in 0..<ow {
                // Source coordinates for output (x, y), per the EXIF definition.
                let (sx, sy): (Int, Int)
                switch orientation {
                case 2: (sx, sy) = (width - 1 - x, y)
                case 3: (sx, sy) = (width - 1 - x, height - 1 - y)
                case 4: (sx, sy) = (x, height - 1 - y)
                case 5: (sx, sy) = (y, x)
                case 6: (sx, sy) = (y, height - 1 - x)
                case 7: (sx, sy) = (width - 1 - y, height - 1 - x)
                default: (sx, sy) = (width - 1 - y, x)  // 8
                }
                for c in 0..<3 { out[(y * ow + x) * 3 + c] = pixels[(sy * width + sx) * 3 + c] }
            }
        }
        return RGBImage(width: ow, height: oh, pixels: out)
    }

    /// Resampled to `w`×`h` with a triangle (bilinear) filter whose support widens with the
    /// reduction, so downsampling averages every source pixel instead of aliasing (as PIL's
    /// BILINEAR, which torchvision's Resize uses). The same size returns the image untouched.
    public func resized(width w: Int, height h: Int) -> RGBImage {
        if w == width && h == height { return self }
        let horizontal = Self.filterWeights(from: width, to: w)
        let vertical = Self.filterWeights(from: height, to: h)
        var tmp = [Float](repeating: 0, count: w * height * 3)
        for y in 0..<height {
            for x in 0..<w {
                let (start, weights) = horizontal[x]
                var acc: (Float, Float, Float) = (0, 0, 0)
                for (k, wt) in weights.enumerated() {
                    let i = (y * width + start + k) * 3
                    acc.0 += wt * pixels[i]; acc.1 += wt * pixels[i + 1]; acc.2 += wt * pixels[i + 2]
                }
                let o = (y * w + x) * 3
                tmp[o] = acc.0; tmp[o + 1] = acc.1; tmp[o + 2] = acc.2
            }
        }
        var out = [Float](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            let (start, weights) = vertical[y]
            for x in 0..<w {
                var acc: (Float, Float, Float) = (0, 0, 0)
                for (k, wt) in weights.enumerated() {
                    let i = ((start + k) * w + x) * 3
                    acc.0 += wt * tmp[i]; acc.1 += wt * tmp[i + 1]; acc.2 += wt * tmp[i + 2]
                }
                let o = (y * w + x) * 3
                out[o] = min(max(acc.0, 0), 1); out[o + 1] = min(max(acc.1, 0), 1); out[o + 2] = min(max(acc.2, 0), 1)
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }

    /// For each output index: the first source index and normalised tap weights.
    static func filterWeights(from n: Int, to m: Int) -> [(Int, [Float])] {
        let scale = Double(n) / Double(m)
        let support = max(scale, 1)  // triangle radius in source pixels
        return (0..<m).map { i in
            let center = (Double(i) + 0.5) * scale
            let lo = max(0, Int((center - support).rounded(.down)))
            let hi = min(n, Int((center + support).rounded(.up)))
            var weights: [Float] = []
            for j in lo..<hi {
                let d = abs((Double(j) + 0.5 - center) / support)
                weights.append(Float(max(0, 1 - d)))
            }
            let sum = weights.reduce(0, +)
            return (lo, sum > 0 ? weights.map { $0 / sum } : weights.map { _ in 1 / Float(weights.count) })
        }
    }

    /// Fits inside `maxSide` on its longer side, keeping the aspect ratio.
    public func fittedSize(maxSide: Int) -> (width: Int, height: Int) {
        let s = Double(maxSide) / Double(max(width, height))
        return (max(1, Int((Double(width) * s).rounded())), max(1, Int((Double(height) * s).rounded())))
    }
}
