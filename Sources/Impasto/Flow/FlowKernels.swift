import Foundation

/// Typed entry points to the optical-flow and warping kernels (cl/flow_pyramid.cl,
/// cl/flow_solve.cl, cl/flow_check.cl, cl/warp.cl). Separate from `Kernels`: only video and
/// `impasto flow` build them. Planes are H×W floats; a flow is two planes, u then v.
package final class FlowKernels {
    package let context: CLContext
    var device: Device { context.device }
    let gray, pyrDown, upsample, linearizeKernel, sorKernel, medianKernel, warpKernel, consistencyKernel: Kernel

    package init(context: CLContext) throws {
        self.context = context
        gray = try context.kernel("flow_pyramid", "gray_from_rgb")
        pyrDown = try context.kernel("flow_pyramid", "pyr_down")
        upsample = try context.kernel("flow_pyramid", "flow_upsample")
        linearizeKernel = try context.kernel("flow_solve", "flow_linearize")
        sorKernel = try context.kernel("flow_solve", "flow_sor")
        medianKernel = try context.kernel("flow_solve", "flow_median")
        warpKernel = try context.kernel("warp", "warp_image")
        consistencyKernel = try context.kernel("flow_check", "flow_consistency")
    }

    private func need(_ b: Buffer, _ count: Int, _ what: String) {
        precondition(b.floatCount >= count, "\(what): buffer holds \(b.floatCount) floats, needs \(count)")
    }

    private func launch(_ k: Kernel, _ n: Int, _ args: KernelArg...) throws {
        try k.set(args)
        try k.enqueue(global: [n], local: LaunchShape.linear(k, device: device))
    }

    /// Interleaved RGB in [0, 1] → grey levels 0…255 (BT.601 luma).
    package func grayFromRGB(_ rgb: Buffer, into out: Buffer, pixels n: Int) throws {
        need(rgb, 3 * n, "gray rgb"); need(out, n, "gray out")
        try launch(gray, n, .b(rgb), .b(out), .i(n))
    }

    /// The next pyramid level: binomial blur, every second pixel; (h+1)/2 × (w+1)/2.
    package func pyramidDown(_ plane: Buffer, width w: Int, height h: Int, into out: Buffer) throws {
        let (ow, oh) = Self.half(w, h)
        need(plane, w * h, "pyr_down in"); need(out, ow * oh, "pyr_down out")
        try launch(pyrDown, ow * oh, .b(plane), .i(w), .i(h), .b(out), .i(ow), .i(oh))
    }

    static func half(_ w: Int, _ h: Int) -> (Int, Int) { ((w + 1) / 2, (h + 1) / 2) }

    /// A coarse flow resized to a finer level, its vectors scaled with it.
    package func upsampleFlow(_ coarse: Buffer, width cw: Int, height ch: Int, into fine: Buffer, width fw: Int, height fh: Int) throws {
        need(coarse, 2 * cw * ch, "flow_upsample in"); need(fine, 2 * fw * fh, "flow_upsample out")
        try launch(upsample, fw * fh, .b(coarse), .i(cw), .i(ch), .b(fine), .i(fw), .i(fh))
    }

    /// B linearised around `flow`: terms = [Ix, Iy, It, u0, v0] planes.
    package func linearize(_ a: Buffer, _ b: Buffer, width w: Int, height h: Int, flow: Buffer, terms: Buffer) throws {
        need(a, w * h, "linearize a"); need(b, w * h, "linearize b"); need(flow, 2 * w * h, "linearize flow")
        need(terms, 5 * w * h, "linearize terms")
        try launch(linearizeKernel, w * h, .b(a), .b(b), .i(w), .i(h), .b(flow), .b(terms))
    }

    /// One red-black SOR sweep (both colours) of the linearised Horn–Schunck system, in place.
    package func sorSweep(_ flow: Buffer, terms: Buffer, width w: Int, height h: Int, alpha2: Float, omega: Float) throws {
        need(flow, 2 * w * h, "sor flow"); need(terms, 5 * w * h, "sor terms")
        for parity in 0..<2 {
            try launch(sorKernel, w * h, .b(flow), .b(terms), .i(w), .i(h), .f(alpha2), .f(omega), .i(parity))
        }
    }

    /// A 3×3 median of each flow plane.
    package func median(_ flow: Buffer, into out: Buffer, width w: Int, height h: Int) throws {
        need(flow, 2 * w * h, "median in"); need(out, 2 * w * h, "median out")
        try launch(medianKernel, 2 * w * h, .b(flow), .b(out), .i(w), .i(h))
    }

    /// out(p) = picture(p + flow(p)), bilinear; `channels` interleaved values per pixel.
    package func warp(_ picture: Buffer, channels: Int, width w: Int, height h: Int, flow: Buffer, into out: Buffer) throws {
        need(picture, channels * w * h, "warp in"); need(flow, 2 * w * h, "warp flow"); need(out, channels * w * h, "warp out")
        try launch(warpKernel, w * h, .b(picture), .i(channels), .i(w), .i(h), .b(flow), .b(out))
    }

    /// 1 where the warped previous frame is reliable, 0 at disocclusions, motion boundaries and
    /// where the backward flow leaves the picture (cl/flow_check.cl).
    package func consistency(backward: Buffer, forward: Buffer, width w: Int, height h: Int, into weights: Buffer) throws {
        need(backward, 2 * w * h, "consistency backward"); need(forward, 2 * w * h, "consistency forward")
        need(weights, w * h, "consistency weights")
        try launch(consistencyKernel, w * h, .b(backward), .b(forward), .i(w), .i(h), .b(weights))
    }
}
