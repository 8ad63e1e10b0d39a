/// A whole picture being optimised on the device: X (normalised, planar 3×H×W), ∂loss/∂X,
/// and the interleaved RGB staging for pictures in and out. Each objective keeps one; the
/// optimisers keep their own state (`Optimizer`).
package final class OptimizedImage {
    package let width, height: Int
    let kernels: Kernels
    package let x, grad: Buffer
    let rgb: Buffer

    var count: Int { 3 * width * height }
    var bytes: Int { x.bytes + grad.bytes + rgb.bytes }
    /// X, its gradient and the staging, for `pixels` values.
    static func bytes(pixels: Int) -> Int { 3 * pixels * 4 }

    /// Zeroed on the device: no host arrays of a whole picture's zeros (nor any while measuring).
    init(kernels: Kernels, width: Int, height: Int) throws {
        self.width = width
        self.height = height
        self.kernels = kernels
        let ctx = kernels.context, n = 3 * width * height
        x = try ctx.buffer(floats: n).zeroed()
        grad = try ctx.buffer(floats: n).zeroed()
        rgb = try ctx.buffer(floats: n)
    }

    /// Sets X to normalised planar values.
    func set(_ values: [Float]) throws {
        precondition(values.count == count, "image has \(values.count) values, expected \(count)")
        try x.write(values)
    }

    /// Puts a picture (already at this size) into X, normalised (the seed's pre-processing).
    func upload(_ picture: RGBImage) throws {
        precondition(picture.width == width && picture.height == height, "picture is \(picture.width)x\(picture.height), image \(width)x\(height)")
        try rgb.write(picture.pixels)
        try kernels.normalize(rgb: rgb, into: x, height: height, width: width)
    }

    /// X (or `values`, another normalised planar image of this size) as a picture:
    /// denormalised and clamped to [0, 1] (the seed's post-processing).
    func picture(of values: Buffer? = nil) throws -> RGBImage {
        try kernels.denormalize(values ?? x, into: rgb, height: height, width: width)
        return RGBImage(width: width, height: height, pixels: try rgb.read())
    }

    /// X from another image's picture at its size, resized on the device exactly as
    /// `upload(other.picture().resized(...))` does on the host: a scale change of a
    /// coarse-to-fine run without the round trip.
    package func upload(resizedFrom other: OptimizedImage) throws {
        try kernels.denormalize(other.x, into: other.rgb, height: other.height, width: other.width)
        var source = other.rgb
        if other.width != width || other.height != height {
            try kernels.resample(other.rgb, into: rgb, layout: .interleaved, x: .triangle(from: other.width, to: width),
                                 y: .triangle(from: other.height, to: height), clamp: true)
            source = rgb
        }
        try kernels.normalize(rgb: source, into: x, height: height, width: width)
    }
}
