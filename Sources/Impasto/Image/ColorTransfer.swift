import Foundation

/// Colour control after Gatys et al., "Controlling Perceptual Factors in Neural Style
/// Transfer" (2017), §5: transfer on luminance only, or match the style's colours to the
/// content's before transfer.
package enum ColorTransfer {
    // YIQ (NTSC): Y is luminance, I and Q carry the colour.
    static func yiq(_ r: Float, _ g: Float, _ b: Float) -> (Float, Float, Float) {
        (0.299 * r + 0.587 * g + 0.114 * b, 0.595716 * r - 0.274453 * g - 0.321263 * b, 0.211456 * r - 0.522591 * g + 0.311135 * b)
    }

    static func rgb(_ y: Float, _ i: Float, _ q: Float) -> (Float, Float, Float) {
        (y + 0.9563 * i + 0.6210 * q, y - 0.2721 * i - 0.6474 * q, y - 1.1070 * i + 1.7046 * q)
    }

    /// The picture's luminance as a gray RGB picture.
    package static func luminance(_ p: RGBImage) -> RGBImage {
        var out = p.pixels
        for k in stride(from: 0, to: out.count, by: 3) {
            let y = yiq(p.pixels[k], p.pixels[k + 1], p.pixels[k + 2]).0
            out[k] = y; out[k + 1] = y; out[k + 2] = y
        }
        return RGBImage(width: p.width, height: p.height, pixels: out)
    }

    /// Luminance of `style` shifted and scaled to the mean and spread of `content`'s (the
    /// paper's luminance matching), as gray RGB.
    package static func matchedLuminance(_ style: RGBImage, to content: RGBImage) -> RGBImage {
        func stats(_ p: RGBImage) -> (Float, Float) {
            let ys = stride(from: 0, to: p.pixels.count, by: 3).map { yiq(p.pixels[$0], p.pixels[$0 + 1], p.pixels[$0 + 2]).0 }
            let mean = ys.reduce(0, +) / Float(ys.count)
            let sd = (ys.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(ys.count)).squareRoot()
            return (mean, sd)
        }
        let (ms, ss) = stats(style), (mc, sc) = stats(content)
        let gray = luminance(style)
        let scale = ss > 1e-6 ? sc / ss : 1
        return RGBImage(width: gray.width, height: gray.height, pixels: gray.pixels.map { min(max(($0 - ms) * scale + mc, 0), 1) })
    }

    /// The luminance of `stylized` with the colour (I, Q) of `colors`, same size.
    package static func combine(luminanceOf stylized: RGBImage, colorsOf colors: RGBImage) -> RGBImage {
        precondition(stylized.width == colors.width && stylized.height == colors.height)
        var out = stylized.pixels
        for k in stride(from: 0, to: out.count, by: 3) {
            let y = yiq(stylized.pixels[k], stylized.pixels[k + 1], stylized.pixels[k + 2]).0
            let (_, i, q) = yiq(colors.pixels[k], colors.pixels[k + 1], colors.pixels[k + 2])
            let (r, g, b) = rgb(y, i, q)
            out[k] = min(max(r, 0), 1); out[k + 1] = min(max(g, 0), 1); out[k + 2] = min(max(b, 0), 1)
        }
        return RGBImage(width: stylized.width, height: stylized.height, pixels: out)
    }

    /// `style` with its colour distribution moved onto `content`'s: x' = A(x − μs) + μc with
    /// A = Σc^½ Σs^−½ (the paper's linear colour transfer, eigendecomposition form), so the
    /// result has the content's colour mean and covariance.
    package static func matchHistogram(_ style: RGBImage, to content: RGBImage) -> RGBImage {
        let (ms, cs) = meanCovariance(style), (mc, cc) = meanCovariance(content)
        let a = multiply(power(cc, 0.5), power(cs, -0.5))
        var out = style.pixels
        for k in stride(from: 0, to: out.count, by: 3) {
            let d = (0..<3).map { Double(style.pixels[k + $0]) - ms[$0] }
            for r in 0..<3 {
                out[k + r] = Float(min(max(a[r][0] * d[0] + a[r][1] * d[1] + a[r][2] * d[2] + mc[r], 0), 1))
            }
        }
        return RGBImage(width: style.width, height: style.height, pixels: out)
    }

    // MARK: 3×3 symmetric matrices

    package static func meanCovariance(_ p: RGBImage) -> ([Double], [[Double]]) {
        let n = Double(p.width * p.height)
        var mean = [0.0, 0, 0]
        for k in stride(from: 0, to: p.pixels.count, by: 3) { for c in 0..<3 { mean[c] += Double(p.pixels[k + c]) } }
        mean = mean.map { $0 / n }
        var cov = [[Double]](repeating: [0, 0, 0], count: 3)
        for k in stride(from: 0, to: p.pixels.count, by: 3) {
            let d = (0..<3).map { Double(p.pixels[k + $0]) - mean[$0] }
            for r in 0..<3 { for c in 0..<3 { cov[r][c] += d[r] * d[c] } }
        }
        return (mean, cov.map { $0.map { $0 / n } })
    }

    static func multiply(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        (0..<3).map { r in (0..<3).map { c in (0..<3).reduce(0) { $0 + a[r][$1] * b[$1][c] } } }
    }

    /// S^p for a symmetric positive semi-definite S, by Jacobi eigendecomposition; eigenvalues
    /// are floored so that a flat (single-colour) picture does not divide by zero.
    static func power(_ s: [[Double]], _ p: Double) -> [[Double]] {
        var a = s
        var v: [[Double]] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
        for _ in 0..<50 {
            var (i, j, largest) = (0, 1, 0.0)
            for r in 0..<3 { for c in (r + 1)..<3 where abs(a[r][c]) > largest { (i, j, largest) = (r, c, abs(a[r][c])) } }
            if largest < 1e-15 { break }
            let theta = 0.5 * atan2(2 * a[i][j], a[j][j] - a[i][i])
            let (cs, sn) = (cos(theta), sin(theta))
            var rot: [[Double]] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
            rot[i][i] = cs; rot[j][j] = cs; rot[i][j] = sn; rot[j][i] = -sn
            let rt = (0..<3).map { r in (0..<3).map { c in rot[c][r] } }
            a = multiply(rt, multiply(a, rot))
            v = multiply(v, rot)
        }
        let lambda = (0..<3).map { pow(max(a[$0][$0], 1e-8), p) }
        return (0..<3).map { r in (0..<3).map { c in (0..<3).reduce(0) { $0 + v[r][$1] * lambda[$1] * v[c][$1] } } }
    }
}
