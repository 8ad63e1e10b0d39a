import Foundation

/// The taps of a one-axis resize from `n` to `m` samples: for each output index, up to
/// `maxTaps` (source index, weight) pairs, summed in order by cl/resample.cl.
package struct ResampleTaps {
    package let n, m, maxTaps: Int
    let index: [Int32], weight: [Float], count: [Int32]

    init(n: Int, m: Int, taps: [[(Int, Float)]]) {
        self.n = n
        self.m = m
        maxTaps = max(1, taps.map(\.count).max() ?? 1)
        var index = [Int32](repeating: 0, count: m * maxTaps), weight = [Float](repeating: 0, count: m * maxTaps)
        for (o, list) in taps.enumerated() {
            for (k, (i, w)) in list.enumerated() {
                index[o * maxTaps + k] = Int32(i)
                weight[o * maxTaps + k] = w
            }
        }
        self.index = index
        self.weight = weight
        count = taps.map { Int32($0.count) }
    }

    /// `RGBImage.resized`'s triangle filter (PIL's BILINEAR: the support widens as it shrinks).
    package static func triangle(from n: Int, to m: Int) -> ResampleTaps {
        ResampleTaps(n: n, m: m, taps: RGBImage.filterWeights(from: n, to: m).map { start, weights in
            weights.enumerated().map { (start + $0.offset, $0.element) }
        })
    }

    /// Plain bilinear interpolation at pixel centres (two taps, clamped at the edges): how
    /// Adam's moments follow the image to the next scale.
    package static func bilinear(from n: Int, to m: Int) -> ResampleTaps {
        ResampleTaps(n: n, m: m, taps: (0..<m).map { i in
            let s = min(max((Double(i) + 0.5) * Double(n) / Double(m) - 0.5, 0), Double(n - 1))
            let i0 = Int(s), i1 = min(i0 + 1, n - 1)
            let f = Float(s - Double(i0))
            return [(i0, 1 - f), (i1, f)]
        })
    }
}

/// How a 3-channel image lies in a buffer.
package enum ImageLayout {
    /// 3×H×W: X, its gradient, Adam's moments.
    case planar
    /// H×W×3: pictures.
    case interleaved
}

extension Kernels {
    /// out (w'×h') = `image` (w×h) resized along x, then along y, with these taps (`x.n` = w,
    /// `x.m` = w', `y.n` = h, `y.m` = h'); `clamp` limits the result to [0, 1]. The row pass
    /// goes through a temporary buffer of w'×h.
    package func resample(_ image: Buffer, into out: Buffer, layout: ImageLayout, x: ResampleTaps, y: ResampleTaps,
                         clamp: Bool = false) throws {
        let (w, h, nw, nh) = (x.n, y.n, x.m, y.m)
        need(image, 3 * w * h, "resample in"); need(out, 3 * nw * nh, "resample out")
        let rows = try context.buffer(floats: 3 * nw * h)
        // [outer][axis][inner] for each pass.
        let rowPass = layout == .planar ? (outer: 3 * h, inner: 1) : (outer: h, inner: 3)
        let columnPass = layout == .planar ? (outer: 3, inner: nw) : (outer: 1, inner: 3 * nw)
        try pass(image, into: rows, taps: x, outer: rowPass.outer, inner: rowPass.inner, clamp: false)
        try pass(rows, into: out, taps: y, outer: columnPass.outer, inner: columnPass.inner, clamp: clamp)
    }

    private func pass(_ a: Buffer, into b: Buffer, taps: ResampleTaps, outer: Int, inner: Int, clamp: Bool) throws {
        let index = try context.buffer(int32: taps.index), weight = try context.buffer(taps.weight)
        let count = try context.buffer(int32: taps.count)
        let total = outer * taps.m * inner
        try resampleAxis.launch(global: [total], local: LaunchShape.linear(resampleAxis, device: device),
                                .b(a), .b(b), .b(index), .b(weight), .b(count), .i(taps.maxTaps),
                                .i(outer), .i(taps.n), .i(taps.m), .i(inner), .i(clamp ? 1 : 0))
    }
}
