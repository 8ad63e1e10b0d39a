import Foundation

/// One picture that shows a run: snapshots of the image side by side, and under them the loss
/// curves (total, content, style, TV; log scale; one colour each, in the legend swatches at
/// the left) over the iterations so far, with a tick under each snapshot's iteration.
package struct ProgressSheet {
    package let thumbWidth, thumbHeight, slots: Int
    package private(set) var snapshots: [(iteration: Int, picture: RGBImage)] = []
    package private(set) var history: [LossTerms] = []
    let plotHeight = 160
    let margin = 8

    /// The curve colours, in the order total, content, style, TV.
    package static let colors: [(Float, Float, Float)] = [(0.1, 0.1, 0.1), (0.15, 0.45, 0.85), (0.85, 0.3, 0.15), (0.2, 0.65, 0.3)]

    package init(outputWidth: Int, outputHeight: Int, slots: Int = 6, thumbHeight: Int = 120) {
        self.slots = max(1, slots)
        self.thumbHeight = min(thumbHeight, outputHeight)
        thumbWidth = max(1, outputWidth * self.thumbHeight / max(outputHeight, 1))
    }

    package mutating func record(_ terms: LossTerms) { history.append(terms) }

    /// Adds a snapshot; beyond `slots`, every other one is dropped so the sheet spans the run.
    package mutating func snapshot(_ picture: RGBImage, iteration: Int) {
        snapshots.append((iteration, picture.resized(width: thumbWidth, height: thumbHeight)))
        if snapshots.count > slots {
            let last = snapshots.removeLast()
            snapshots = snapshots.enumerated().filter { $0.offset % 2 == 0 }.map(\.element) + [last]
        }
    }

    package var width: Int { slots * thumbWidth + (slots + 1) * margin }
    package var height: Int { thumbHeight + plotHeight + 3 * margin }

    package func render() -> RGBImage {
        var px = [Float](repeating: 1, count: width * height * 3)
        func set(_ x: Int, _ y: Int, _ c: (Float, Float, Float)) {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            let i = (y * width + x) * 3
            px[i] = c.0; px[i + 1] = c.1; px[i + 2] = c.2
        }
        for (k, s) in snapshots.enumerated() {
            let x0 = margin + k * (thumbWidth + margin)
            for y in 0..<thumbHeight { for x in 0..<thumbWidth {
                let i = (y * thumbWidth + x) * 3
                set(x0 + x, margin + y, (s.picture.pixels[i], s.picture.pixels[i + 1], s.picture.pixels[i + 2]))
            } }
        }
        // Plot frame.
        let top = thumbHeight + 2 * margin, left = margin + 14, right = width - margin, bottom = top + plotHeight - 1
        let gray: (Float, Float, Float) = (0.75, 0.75, 0.75)
        for x in left...right { set(x, top, gray); set(x, bottom, gray) }
        for y in top...bottom { set(left, y, gray); set(right, y, gray) }
        // Legend swatches, top to bottom in curve order.
        for (k, c) in Self.colors.enumerated() {
            for y in 0..<6 { for x in 0..<8 { set(margin + x, top + 4 + k * 10 + y, c) } }
        }
        guard history.count >= 1 else { return RGBImage(width: width, height: height, pixels: px) }
        let series: [[Float]] = [history.map(\.total), history.map(\.content), history.map(\.style), history.map(\.tv)]
        let positive = series.flatMap { $0 }.filter { $0 > 0 && $0.isFinite }
        let lo = log10(positive.min() ?? 1), hi = log10(positive.max() ?? 10)
        let span = max(hi - lo, 1e-3)
        let n = max(history.count - 1, 1)
        func xAt(_ i: Int) -> Int { left + 1 + (right - left - 2) * i / n }
        func yAt(_ v: Float) -> Int { bottom - 1 - Int(Float(bottom - top - 2) * (log10(max(v, positive.min() ?? 1)) - lo) / span) }
        for s in snapshots { for y in (bottom - 5)...bottom { set(xAt(min(s.iteration, n)), y, (0.4, 0.4, 0.4)) } }
        for (k, values) in series.enumerated() where values.contains(where: { $0 > 0 }) {
            var previous: (Int, Int)?
            for (i, v) in values.enumerated() where v > 0 && v.isFinite {
                let point = (xAt(i), yAt(v))
                if let p = previous {  // a line from the previous point
                    let steps = max(abs(point.0 - p.0), abs(point.1 - p.1), 1)
                    for t in 0...steps {
                        let x = p.0 + (point.0 - p.0) * t / steps, y = p.1 + (point.1 - p.1) * t / steps
                        set(x, y, Self.colors[k]); set(x, y + 1, Self.colors[k])
                    }
                }
                previous = point
            }
        }
        return RGBImage(width: width, height: height, pixels: px)
    }
}
