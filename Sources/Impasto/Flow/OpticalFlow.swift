import Foundation

/// How `OpticalFlow` computes a field: Horn–Schunck with warping, coarse to fine.
public struct FlowSettings: Hashable, Codable, Sendable {
    /// Smoothness weight, in grey levels (0…255) per pixel of flow: larger is smoother.
    public var alpha: Float = 10
    /// Linearisations of the second picture around the current flow, per pyramid level.
    public var warps = 5
    /// Red-black SOR sweeps per linearisation.
    public var sweeps = 25
    /// Over-relaxation of the sweeps (1: Gauss–Seidel).
    public var omega: Float = 1.9
    /// The pyramid stops before a level whose shorter side is below this many pixels.
    public var coarsestSide = 12
    /// A 3×3 median of the flow after each linearisation (Sun, Roth and Black's advice).
    public var median = true

    public init() {}
}

/// Dense optical flow on the device: a pyramid of grey pictures (binomial blur, halving), and
/// at each level from the coarsest, the flow from the level above upsampled, then `warps`
/// rounds of linearising the second picture around it and solving the Horn–Schunck system
/// by red-black SOR, each followed by a 3×3 median. Made for one picture size; its buffers
/// (pyramids, terms) are reused by every pair.
package final class OpticalFlow {
    package let width, height: Int
    package let settings: FlowSettings
    package let kernels: FlowKernels
    /// Level sizes, finest first.
    package let levels: [(width: Int, height: Int)]
    let rgb: Buffer
    let terms: Buffer
    let scratch: [Buffer]

    /// One picture's grey pyramid on the device (finest first); make it once per frame, use it
    /// in every pair the frame is part of.
    package final class Pyramid {
        let planes: [Buffer]
        init(planes: [Buffer]) { self.planes = planes }
    }

    package init(kernels: FlowKernels, width: Int, height: Int, settings: FlowSettings = FlowSettings()) throws {
        guard width >= 2, height >= 2 else { throw StyleTransferError("optical flow needs at least 2x2 pixels, not \(width)x\(height)") }
        self.width = width
        self.height = height
        self.settings = settings
        self.kernels = kernels
        levels = Self.levels(width: width, height: height, coarsestSide: settings.coarsestSide)
        let ctx = kernels.context
        rgb = try ctx.buffer(floats: 3 * width * height)
        terms = try ctx.buffer(floats: 5 * width * height)
        scratch = try levels.map { try ctx.buffer(floats: 2 * $0.width * $0.height) }
    }

    /// Sizes from (width, height) down, each `FlowKernels.half` of the last, while the
    /// shorter side stays at least `coarsestSide`.
    package static func levels(width: Int, height: Int, coarsestSide: Int) -> [(width: Int, height: Int)] {
        var out = [(width: width, height: height)]
        while true {
            let (w, h) = FlowKernels.half(out.last!.width, out.last!.height)
            if min(w, h) < max(coarsestSide, 2) || (w, h) == (out.last!.width, out.last!.height) { break }
            out.append((w, h))
        }
        return out
    }

    /// A picture of this size as a grey pyramid.
    package func pyramid(_ picture: RGBImage) throws -> Pyramid {
        precondition(picture.width == width && picture.height == height, "flow of \(width)x\(height) given a \(picture.width)x\(picture.height) picture")
        let ctx = kernels.context
        try rgb.write(picture.pixels)
        var planes = [try ctx.buffer(floats: width * height)]
        try kernels.grayFromRGB(rgb, into: planes[0], pixels: width * height)
        for (i, level) in levels.enumerated().dropFirst() {
            let plane = try ctx.buffer(floats: level.width * level.height)
            try kernels.pyramidDown(planes[i - 1], width: levels[i - 1].width, height: levels[i - 1].height, into: plane)
            planes.append(plane)
        }
        return Pyramid(planes: planes)
    }

    /// The flow from `a` to `b` (for each pixel p of a, where it is in b), on the device: two
    /// planes at this size.
    package func flow(from a: Pyramid, to b: Pyramid) throws -> Buffer {
        let ctx = kernels.context
        var flow: Buffer?
        for (l, level) in levels.enumerated().reversed() {
            let (w, h) = level
            let current = try ctx.buffer(floats: 2 * w * h)
            if let coarse = flow {
                let c = levels[l + 1]
                try kernels.upsampleFlow(coarse, width: c.width, height: c.height, into: current, width: w, height: h)
            } else {
                try current.fill(0)
            }
            for _ in 0..<settings.warps {
                try kernels.linearize(a.planes[l], b.planes[l], width: w, height: h, flow: current, terms: terms)
                for _ in 0..<settings.sweeps {
                    try kernels.sorSweep(current, terms: terms, width: w, height: h,
                                         alpha2: settings.alpha * settings.alpha, omega: settings.omega)
                }
                if settings.median {
                    try kernels.median(current, into: scratch[l], width: w, height: h)
                    try current.copy(from: scratch[l])
                }
            }
            flow = current
        }
        return flow!
    }

    /// The flow from picture `a` to picture `b`, read back.
    package func flow(from a: RGBImage, to b: RGBImage) throws -> FlowField {
        let f = try flow(from: try pyramid(a), to: try pyramid(b))
        return FlowField(width: width, height: height, values: try f.read(count: 2 * width * height))
    }

    /// A field on the device (two planes at this size).
    package func upload(_ field: FlowField) throws -> Buffer {
        precondition(field.width == width && field.height == height, "a \(field.width)x\(field.height) flow for \(width)x\(height)")
        return try kernels.context.buffer(field.values)
    }

    /// `picture` moved along `flow` (this size): out(p) = picture(p + flow(p)).
    package func warp(_ picture: RGBImage, by flow: Buffer) throws -> RGBImage {
        precondition(picture.width == width && picture.height == height, "warp of \(width)x\(height) given \(picture.width)x\(picture.height)")
        let out = try kernels.context.buffer(floats: 3 * width * height)
        try rgb.write(picture.pixels)
        try kernels.warp(rgb, channels: 3, width: width, height: height, flow: flow, into: out)
        return RGBImage(width: width, height: height, pixels: try out.read(count: 3 * width * height))
    }

    /// Reliability weights (1 or 0 per pixel) of a picture warped by `backward`, given the
    /// `forward` flow of the same pair (see cl/flow_check.cl).
    package func reliability(backward: Buffer, forward: Buffer) throws -> [Float] {
        let out = try kernels.context.buffer(floats: width * height)
        try kernels.consistency(backward: backward, forward: forward, width: width, height: height, into: out)
        return try out.read(count: width * height)
    }
}
