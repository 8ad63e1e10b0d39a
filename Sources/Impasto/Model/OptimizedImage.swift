/// A whole picture being optimised on the device: X (normalised, planar 3×H×W), ∂loss/∂X,
/// Adam's moments and step count, and the interleaved RGB staging for pictures in and out.
/// `StyleTransfer` and `TiledStyleTransfer` each keep one; a tile's network keeps only X and
/// its gradient.
final class OptimizedImage {
    let width, height: Int
    let kernels: Kernels
    let x, grad, m, v, rgb: Buffer
    private(set) var steps = 0

    var count: Int { 3 * width * height }
    var bytes: Int { x.bytes + grad.bytes + m.bytes + v.bytes + rgb.bytes }

    /// Zeroed on the device: no host arrays of a whole picture's zeros (nor any while measuring).
    init(kernels: Kernels, width: Int, height: Int) throws {
        self.width = width
        self.height = height
        self.kernels = kernels
        let ctx = kernels.context, n = 3 * width * height
        x = try ctx.buffer(floats: n)
        grad = try ctx.buffer(floats: n)
        m = try ctx.buffer(floats: n)
        v = try ctx.buffer(floats: n)
        rgb = try ctx.buffer(floats: n)
        for b in [x, grad, m, v] { try b.fill(0) }
    }

    /// Sets X to normalised planar values.
    func set(_ values: [Float]) throws {
        precondition(values.count == count, "image has \(values.count) values, expected \(count)")
        try x.write(values)
    }

    /// Puts a picture (already at this size) into X, normalised (the seed's pre-processing).
    func upload(_ picture: RGBImage) throws {
        precondition(picture.width == width && picture.height == height, "picture is \(picture.width)x\(picture.height), model \(width)x\(height)")
        try rgb.write(picture.pixels)
        try kernels.normalize(rgb: rgb, into: x, height: height, width: width)
    }

    /// X as a picture: denormalised and clamped to [0, 1] (the seed's post-processing).
    func picture() throws -> RGBImage {
        try kernels.denormalize(x, into: rgb, height: height, width: width)
        return RGBImage(width: width, height: height, pixels: try rgb.read())
    }

    /// One Adam step on X with the gradient in `grad`.
    func adamStep(lr: Float) throws {
        steps += 1
        try kernels.adamStep(x: x, grad: grad, m: m, v: v, count: count, lr: lr, t: steps)
    }

    func resetAdam() throws {
        try m.fill(0)
        try v.fill(0)
        steps = 0
    }

    func adamState() throws -> AdamState {
        AdamState(width: width, height: height, m: try m.read(), v: try v.read(), steps: steps)
    }

    /// Continues from another size's Adam state, resized to this one.
    func restoreAdam(_ state: AdamState) throws {
        let s = state.resized(width: width, height: height)
        try m.write(s.m)
        try v.write(s.v)
        steps = s.steps
    }
}
