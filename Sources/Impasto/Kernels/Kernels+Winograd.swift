/// Scratch for Winograd convolutions, shared by every conv of a graph (they run one after
/// another on one queue): sized at graph construction to the largest layer's need and
/// allocated once, before the first run.
package final class WinogradScratch {
    /// Tiles per pass: bounds V and M at any image size (F(4x4) tiles; 2048 ≈ a 256x128 area).
    package let maxTiles: Int
    private(set) var vFloats = 1, mFloats = 1, uFloats = 1
    private var v, m, u: Buffer?

    package init(maxTiles: Int = 2048) { self.maxTiles = max(16, maxTiles).roundedUp(to: 16) }

    /// Tiles of an h×w map as cl/winograd.cl numbers them, at most (rows of tiles padded to 16).
    static func tiles(h: Int, w: Int) -> Int { h.divRoundUp(4) * w.divRoundUp(4).roundedUp(to: 16) }

    /// Makes room for a conv of these sizes, both directions (or only forward).
    package func reserve(cin: Int, cout: Int, h: Int, w: Int, backward: Bool = true) {
        let tpad = min(Self.tiles(h: h, w: w), maxTiles).roundedUp(to: Kernels.winogradVW)
        for (i, o) in backward ? [(cin, cout), (cout, cin)] : [(cin, cout)] {
            let oPad = o.roundedUp(to: Kernels.convOCB)
            vFloats = max(vFloats, 36 * i * tpad)
            mFloats = max(mFloats, 36 * oPad * tpad)
            uFloats = max(uFloats, 36 * i * oPad)
        }
    }

    package var bytes: Int { 4 * (vFloats + mFloats + uFloats) }

    func buffers(_ ctx: CLContext) throws -> (v: Buffer, m: Buffer, u: Buffer) {
        if v == nil || v!.floatCount < vFloats || m!.floatCount < mFloats || u!.floatCount < uFloats {
            v = try ctx.buffer(floats: vFloats)
            m = try ctx.buffer(floats: mFloats)
            u = try ctx.buffer(floats: uFloats)
        }
        return (v!, m!, u!)
    }
}

extension Kernels {
    static let winogradVW = 16

    /// How the transforms of a map `w` wide run: `tv` tiles per work-item (cl/winograd.cl's TV)
    /// and `twp` tiles per row as numbered. 16 per work-item needs rows padded to 16 tiles,
    /// which on narrow maps would waste more than it gains (conv5_1 at 500x400: 8 tiles a row,
    /// padded to 16, doubled its GEMM), so those run one tile per work-item.
    func transformLayout(width w: Int) -> (tv: Int, twp: Int) {
        let tw = w.divRoundUp(4), padded = tw.roundedUp(to: 16)
        return tuning.transformTiles == 16 && padded - tw <= tw / 2 ? (16, padded) : (1, tw)
    }

    /// Winograd pays off when both channel counts are large enough to amortise the transforms
    /// (the first layer's 3 channels do not).
    package static func prefersWinograd(cin: Int, cout: Int) -> Bool { cin >= 16 && cout >= 16 }

    /// Bytes of a fused ReLU's mask for c maps of h×w (cl/winograd.cl: rows of 32-bit words).
    package static func rowMaskBytes(channels c: Int, height h: Int, width w: Int) -> Int { 4 * c * h * w.divRoundUp(32) }

    /// out (+)= conv3x3(input) + bias with Winograd F(4x4, 3x3). `weights` are PyTorch's
    /// [cout][cin][3][3]; with `flipped`, `weights` belong to the conv whose input and output
    /// channels are swapped, and the 180°-rotated transposed kernel is used (backward-data).
    /// With `reluMask`, out = max(conv + bias, 0) and the mask gets the bits of conv + bias > 0;
    /// with `inputMask` (such a mask of the input's shape), the input is read times the mask.
    @discardableResult
    package func winogradConv(input: Buffer, weights: Buffer, flipped: Bool, bias: Buffer, output: Buffer,
                             cin: Int, cout: Int, height h: Int, width w: Int, accumulate: Bool = false,
                             reluMask: Buffer? = nil, inputMask: Buffer? = nil,
                             scratch: WinogradScratch) throws -> [Event] {
        let coutPad = cout.roundedUp(to: Self.convOCB)
        need(input, cin * h * w, "winograd input", anyStorage: true); need(weights, cin * cout * 9, "winograd weights")
        need(bias, coutPad, "winograd bias"); need(output, cout * h * w, "winograd output", anyStorage: true)
        precondition(reluMask == nil || !accumulate, "a fused ReLU cannot accumulate")
        if let reluMask { precondition(reluMask.bytes >= Self.rowMaskBytes(channels: cout, height: h, width: w), "relu mask too small") }
        if let inputMask { precondition(inputMask.bytes >= Self.rowMaskBytes(channels: cin, height: h, width: w), "input mask too small") }
        scratch.reserve(cin: cin, cout: cout, h: h, w: w, backward: false)  // this call's direction only
        let (v, m, u) = try scratch.buffers(context)
        // Whole cache lines per store where the reads are gathers (see cl/winograd.cl).
        let (weightsKernel, wocb) = !flipped && coutPad % 16 == 0 ? (winogradWeights16, 16) : (winogradWeights, Self.convOCB)
        var events = [try weightsKernel.launch(global: [coutPad / wocb, cin], local: LaunchShape.fit([tuning.transformLocal, 1], kernel: weightsKernel, device: device),
                                               .b(weights), .b(u), .i(cin), .i(cout), .i(coutPad), .i(flipped ? 1 : 0))]
        let (tv, twp) = transformLayout(width: w)
        let (plainInput, plainOutput) = tv == 16 ? (winogradInput, winogradOutput) : (winogradInput1, winogradOutput1)
        let inputKernel = try storing(plainInput, ["IN": input]), outputKernel = try storing(plainOutput, ["OUT": output])
        if let reluMask, tv == 1 { try reluMask.fill(0) }  // work-items OR their bits in
        let tiles = h.divRoundUp(4) * twp
        for tbase in stride(from: 0, to: tiles, by: scratch.maxTiles) {
            let tcount = min(scratch.maxTiles, tiles - tbase)
            let tpad = tcount.roundedUp(to: Self.winogradVW)
            events.append(try inputKernel.launch(global: [tpad / tv, cin], local: LaunchShape.fit([tuning.transformLocal, 1], kernel: inputKernel, device: device),
                                                 .b(input), .b(v), .i(cin), .i(h), .i(w), .i(twp), .i(tbase), .i(tcount), .i(tpad),
                                                 .b(inputMask ?? input), .i(inputMask == nil ? 0 : 1)))
            events.append(try winogradGemm.launch(global: [tpad / Self.winogradVW, coutPad / Self.convOCB, 36],
                                                  local: LaunchShape.fit(tuning.gemmLocal + [1], kernel: winogradGemm, device: device),
                                                  .b(u), .b(v), .b(m), .i(cin), .i(coutPad), .i(tpad)))
            events.append(try outputKernel.launch(global: [tcount.divRoundUp(tv), cout], local: LaunchShape.fit([tuning.transformLocal, 1], kernel: outputKernel, device: device),
                                                  .b(m), .b(bias), .b(output), .i(cout), .i(coutPad), .i(h), .i(w),
                                                  .i(twp), .i(tbase), .i(tcount), .i(tpad), .i(accumulate ? 1 : 0),
                                                  .b(reluMask ?? output), .i(reluMask == nil ? 0 : 1)))
        }
        return events
    }
}
