import Foundation

/// Typed entry points to every kernel in `cl/`, built once per context. Each method checks
/// the sizes it is given against the buffers, picks launch shapes from the device's limits
/// and returns the command's event (for profiling).
package final class Kernels: @unchecked Sendable {
    package let context: CLContext
    /// Per-device choices that split the work without changing results (see `Autotune`).
    package let tuning: Tuning
    var device: Device { context.device }

    /// The direct convolution built for each vector width along x and output-channel block
    /// (cl/conv3x3.cl's VW and OCB).
    struct DirectVariant: Hashable { let vw, ocb: Int }
    let convByShape: [DirectVariant: Kernel]
    let reluForward, reluBackward: Kernel
    let poolForward, poolBackward: Kernel
    let avgPoolForward, avgPoolBackward: Kernel
    let axpbyKernel, axpbyScalarsKernel: Kernel
    let dotPartial, absPartial: Kernel
    let addNormalizedKernel, maskMultiplyKernel: Kernel
    let winogradWeights, winogradInput, winogradGemm, winogradOutput: Kernel
    let winogradInput1, winogradOutput1: Kernel
    /// The weight transform 16 output channels per work-item (unflipped, coutPad a multiple of 16).
    let winogradWeights16: Kernel
    let gramPartial, gramReduce, gramBackward: Kernel
    let channelMeanPartial, channelMeanReduce, w2Covariance, w2TargetShift, w2ShiftKernel, w2Scale, w2NewtonSchulzT, w2Transpose: Kernel
    let w2LossKernel, w2GradientKernel, w2MeanGradientKernel, addChannelOuterKernel: Kernel
    let msePartial, scaledDiff, sumPartials: Kernel
    let tvPartial, tvBackward: Kernel
    let temporalPartial, temporalBackward: Kernel
    let adam: Kernel
    let normalize, denormalize: Kernel
    let cropPlanes, addTile, tileMaskKernel: Kernel
    let resampleAxis: Kernel

    /// How many partial sums a reduction leaves: fixed, so results do not depend on the device.
    static let partialCount = 1024
    /// gram_backward's block per work-item (cl/gram_backward.cl's RB rows × VW columns): 16×16
    /// on a CPU (one AVX-512 vector per row), 8×4 on a GPU (its registers are per lane).
    static func gramBlock(for device: Device) -> (rows: Int, columns: Int) { device.isCPU ? (16, 16) : (8, 4) }
    var gramBlock: (rows: Int, columns: Int) { Self.gramBlock(for: device) }

    package init(context: CLContext, tuning: Tuning? = nil) throws {
        self.context = context
        self.tuning = tuning ?? context.tuning
        convByShape = try Dictionary(uniqueKeysWithValues: Self.convWidths.flatMap { vw in try [4, Self.convOCB].map { ocb in
            (DirectVariant(vw: vw, ocb: ocb),
             try context.kernel("conv3x3", "conv3x3", defines: ["VW": "\(vw)", "OCB": "\(ocb)", "YB": "\(Self.convRows)"]))
        } })
        reluForward = try context.kernel("relu", "relu_forward")
        reluBackward = try context.kernel("relu", "relu_backward")
        poolForward = try context.kernel("pool", "maxpool_forward")
        poolBackward = try context.kernel("pool", "maxpool_backward")
        avgPoolForward = try context.kernel("pool", "avgpool_forward")
        avgPoolBackward = try context.kernel("pool", "avgpool_backward")
        axpbyKernel = try context.kernel("axpby", "axpby")
        axpbyScalarsKernel = try context.kernel("axpby", "axpby_scalars")
        dotPartial = try context.kernel("dot", "dot_partial")
        absPartial = try context.kernel("dot", "abs_partial")
        addNormalizedKernel = try context.kernel("axpby", "add_normalized")
        maskMultiplyKernel = try context.kernel("axpby", "mask_multiply")
        let wino = ["VW": "\(Self.winogradVW)", "OCB": "\(Self.convOCB)", "TV": "\(self.tuning.transformTiles)"]
        winogradWeights = try context.kernel("winograd", "winograd_weights", defines: wino)
        winogradWeights16 = try context.kernel("winograd", "winograd_weights", defines: wino.merging(["WOCB": "16"]) { $1 })
        winogradInput = try context.kernel("winograd", "winograd_input", defines: wino)
        winogradGemm = try context.kernel("winograd", "winograd_gemm", defines: wino)
        winogradOutput = try context.kernel("winograd", "winograd_output", defines: wino)
        // One tile per work-item: narrow maps even where the tuning says 16 (`transformLayout`).
        let wino1 = wino.merging(["TV": "1"]) { $1 }
        winogradInput1 = try context.kernel("winograd", "winograd_input", defines: wino1)
        winogradOutput1 = try context.kernel("winograd", "winograd_output", defines: wino1)
        gramPartial = try context.kernel("gram", "gram_partial")
        gramReduce = try context.kernel("gram", "gram_reduce")
        let gb = Self.gramBlock(for: context.device)
        gramBackward = try context.kernel("gram_backward", "gram_backward", defines: ["VW": "\(gb.columns)", "RB": "\(gb.rows)"])
        channelMeanPartial = try context.kernel("w2", "channel_mean_partial")
        channelMeanReduce = try context.kernel("w2", "channel_mean_reduce")
        w2Covariance = try context.kernel("w2", "w2_covariance")
        w2TargetShift = try context.kernel("w2", "w2_target_shift")
        w2ShiftKernel = try context.kernel("w2", "w2_shift")
        w2Scale = try context.kernel("w2", "w2_scale")
        w2NewtonSchulzT = try context.kernel("w2", "w2_ns_t")
        w2Transpose = try context.kernel("w2", "w2_transpose")
        w2LossKernel = try context.kernel("w2", "w2_loss")
        w2GradientKernel = try context.kernel("w2", "w2_gradient")
        w2MeanGradientKernel = try context.kernel("w2", "w2_mean_gradient")
        addChannelOuterKernel = try context.kernel("w2", "add_channel_outer")
        msePartial = try context.kernel("mse", "mse_partial")
        scaledDiff = try context.kernel("mse", "scaled_diff")
        sumPartials = try context.kernel("reduce", "sum_partials")
        tvPartial = try context.kernel("tv", "tv_partial")
        tvBackward = try context.kernel("tv", "tv_backward")
        temporalPartial = try context.kernel("temporal", "temporal_partial")
        temporalBackward = try context.kernel("temporal", "temporal_backward")
        adam = try context.kernel("adam", "adam_step")
        normalize = try context.kernel("image", "normalize_image")
        denormalize = try context.kernel("image", "denormalize_image")
        cropPlanes = try context.kernel("crop", "crop_planes")
        addTile = try context.kernel("crop", "add_tile")
        tileMaskKernel = try context.kernel("crop", "tile_mask")
        resampleAxis = try context.kernel("resample", "resample_axis")
    }

    /// Checks a buffer's size (in elements) and, unless `anyStorage`, that it holds fp32.
    func need(_ b: Buffer, _ count: Int, _ what: String, anyStorage: Bool = false) {
        precondition(b.floatCount >= count, "\(what): buffer holds \(b.floatCount) elements, needs \(count)")
        precondition(anyStorage || !b.isHalf, "\(what): this kernel reads fp32 only")
    }

    private var variants: [String: Kernel] = [:]
    private var smallKernels: [SmallBlock: Kernel] = [:]
    private let variantLock = NSLock()

    /// `k` built again with NAME_HALF=1 for each named buffer that holds fp16 (see
    /// cl/storage.cl); `k` itself when none does, so fp32 runs exactly as before.
    func storing(_ k: Kernel, _ buffers: KeyValuePairs<String, Buffer>) throws -> Kernel {
        let halves = buffers.filter { $0.value.isHalf }.map { $0.key + "_HALF" }
        if halves.isEmpty { return k }
        let defines = k.origin.defines.merging(halves.map { ($0, "1") }) { $1 }
        let key = k.origin.file + "/" + k.name + defines.sorted { $0.key < $1.key }.description
        variantLock.lock()
        defer { variantLock.unlock() }
        if let v = variants[key] { return v }
        let v = try context.kernel(k.origin.file, k.name, defines: defines)
        variants[key] = v
        return v
    }

    /// Buffers that one kernel flag covers must agree on their storage.
    func sameStorage(_ a: Buffer, _ b: Buffer, _ what: String) {
        precondition(a.storage == b.storage, "\(what): \(a.storage) and \(b.storage) buffers")
    }

    // MARK: convolution

    /// Output pixels per work-item along x (the kernel's VW) and output channels (OCB).
    static let convWidths = [16, 8]
    static let convOCB = 8
    /// Output channels per direct-conv work-item: 8, or 4 for at most 4 channels (the image
    /// gradient's 3: with 8, five of every eight multiply-adds were padding; 22 -> 14–18 ms at
    /// 500x400).
    package static func convBlock(cout: Int) -> Int { cout <= 4 ? 4 : convOCB }
    static let convRows = 1

    /// The widest vector that wastes at most 1/8 of a row on its ragged last block.
    static func convWidth(for w: Int) -> Int {
        convWidths.first { w.roundedUp(to: $0) - w <= w / 8 } ?? convWidths.last!
    }

    /// out (+)= conv3x3(input) + bias, with weights laid out [cin][9][coutPad]. With
    /// `reluMask`, out = max(conv + bias, 0) and the mask gets the bits of conv + bias > 0; with
    /// `inputMask`, the input is read times such a mask (both as `rowMaskBytes` lays them out).
    @discardableResult
    package func conv3x3(input: Buffer, weights: Buffer, bias: Buffer, output: Buffer,
                        cin: Int, cout: Int, height h: Int, width w: Int, accumulate: Bool = false,
                        reluMask: Buffer? = nil, inputMask: Buffer? = nil, vectorWidth: Int? = nil) throws -> Event {
        let ocb = Self.convBlock(cout: cout), coutPad = cout.roundedUp(to: ocb)
        checkDirectSum("conv3x3", input: input, weights: weights, bias: bias, output: output, cin: cin, cout: cout,
                       coutPad: coutPad, height: h, width: w, accumulate: accumulate, reluMask: reluMask, inputMask: inputMask)
        let vw = vectorWidth ?? Self.convWidth(for: w)
        guard let plain = convByShape[DirectVariant(vw: vw, ocb: ocb)] else { preconditionFailure("no conv3x3 built for VW=\(vw)") }
        let conv = try storing(plain, ["IN": input, "OUT": output])
        let preferred = device.isCPU ? [1, 1, 1] : [8, 8, 1]
        let local = LaunchShape.fit(preferred, kernel: conv, device: device)
        if let reluMask { try reluMask.fill(0) }  // work-items OR their bits in
        let mode = reluMask != nil ? 1 : inputMask != nil ? 2 : 0
        return try conv.launch(global: [w.divRoundUp(vw), h.divRoundUp(Self.convRows), coutPad / ocb], local: local,
                               .b(input), .b(weights), .b(bias), .b(output),
                               .i(cin), .i(cout), .i(h), .i(w), .i(accumulate ? 1 : 0),
                               .b(reluMask ?? inputMask ?? output), .i(mode))
    }

    /// The buffer checks of the two direct-sum kernels (cl/conv3x3.cl, cl/conv_small.cl): the
    /// same weight layout ([cin][9][coutPad]), bias, masks and modes.
    private func checkDirectSum(_ what: String, input: Buffer, weights: Buffer, bias: Buffer, output: Buffer, cin: Int, cout: Int,
                                coutPad: Int, height h: Int, width w: Int, accumulate: Bool, reluMask: Buffer?, inputMask: Buffer?) {
        need(input, cin * h * w, "\(what) input", anyStorage: true)
        need(weights, cin * 9 * coutPad, "\(what) weights")
        need(bias, coutPad, "\(what) bias")
        need(output, cout * h * w, "\(what) output", anyStorage: true)
        precondition(reluMask == nil || (!accumulate && inputMask == nil), "a fused ReLU neither accumulates nor reads a mask")
        if let reluMask { precondition(reluMask.bytes >= Self.rowMaskBytes(channels: cout, height: h, width: w), "relu mask too small") }
        if let inputMask { precondition(inputMask.bytes >= Self.rowMaskBytes(channels: cin, height: h, width: w), "input mask too small") }
    }

    /// The small-map kernel's block (cl/conv_small.cl's PX pixels along x × PY rows, 16 output
    /// channels), built on first use.
    struct SmallBlock: Hashable { let px, py: Int }
    private func smallKernel(_ block: SmallBlock) throws -> Kernel {
        variantLock.lock()
        defer { variantLock.unlock() }
        if let k = smallKernels[block] { return k }
        let k = try context.kernel("conv_small", "conv3x3_small", defines: ["PX": "\(block.px)", "PY": "\(block.py)"])
        smallKernels[block] = k
        return k
    }

    /// Whether the small-map kernel can run a conv to `cout` channels (its vectors are 16 of them).
    package static func smallMapFits(cout: Int) -> Bool { cout % 16 == 0 }

    /// The small-map kernel's block for a w×h map: a row's pixels up to 8 (so few lanes of the
    /// last block are idle) and two rows where there are.
    static func smallBlock(width w: Int, height h: Int) -> SmallBlock {
        SmallBlock(px: w <= 2 ? 2 : w <= 4 ? 4 : 8, py: h >= 2 ? 2 : 1)
    }

    /// conv3x3 (same weights, bias, masks and result) by cl/conv_small.cl: vectorised along
    /// output channels, for maps too small for the direct kernel's vectors or Winograd's tiles.
    @discardableResult
    package func convSmall(input: Buffer, weights: Buffer, bias: Buffer, output: Buffer,
                          cin: Int, cout: Int, height h: Int, width w: Int, accumulate: Bool = false,
                          reluMask: Buffer? = nil, inputMask: Buffer? = nil, block: (px: Int, py: Int)? = nil) throws -> Event {
        precondition(Self.smallMapFits(cout: cout), "conv_small needs a multiple of 16 output channels, given \(cout)")
        checkDirectSum("conv_small", input: input, weights: weights, bias: bias, output: output, cin: cin, cout: cout,
                       coutPad: cout, height: h, width: w, accumulate: accumulate, reluMask: reluMask, inputMask: inputMask)
        let b = block.map { SmallBlock(px: $0.px, py: $0.py) } ?? Self.smallBlock(width: w, height: h)
        let conv = try storing(try smallKernel(b), ["IN": input, "OUT": output])
        let local = LaunchShape.fit(device.isCPU ? [1, 1, 1] : [1, 1, 32], kernel: conv, device: device)
        if let reluMask { try reluMask.fill(0) }
        let mode = reluMask != nil ? 1 : inputMask != nil ? 2 : 0
        return try conv.launch(global: [w.divRoundUp(b.px), h.divRoundUp(b.py), cout / 16], local: local,
                               .b(input), .b(weights), .b(bias), .b(output),
                               .i(cin), .i(cout), .i(h), .i(w), .i(accumulate ? 1 : 0),
                               .b(reluMask ?? inputMask ?? output), .i(mode))
    }

    // MARK: elementwise

    /// Bytes of the positive-element mask `relu` keeps for n elements (a bit each, in words).
    package static func reluMaskBytes(_ n: Int) -> Int { 4 * n.divRoundUp(32) }

    /// y = max(x, 0) (in place allowed), and mask = the bits of x > 0 for `reluBackward`.
    @discardableResult
    package func relu(_ x: Buffer, into y: Buffer, mask: Buffer, count n: Int) throws -> Event {
        need(x, n, "relu input", anyStorage: true); need(y, n, "relu output", anyStorage: true)
        sameStorage(x, y, "relu")
        precondition(mask.bytes >= Self.reluMaskBytes(n), "relu mask too small")
        return try storing(reluForward, ["ACT": x]).launch(global: [n.divRoundUp(32)], local: LaunchShape.linear(reluForward, device: device),
                                      .b(x), .b(y), .b(mask), .i(n))
    }

    @discardableResult
    package func reluBackward(mask: Buffer, gradOutput gy: Buffer, gradInput gx: Buffer, count n: Int,
                             accumulate: Bool = false) throws -> Event {
        need(gy, n, "relu gy", anyStorage: true); need(gx, n, "relu gx", anyStorage: true)
        sameStorage(gy, gx, "relu backward")
        precondition(mask.bytes >= Self.reluMaskBytes(n), "relu mask too small")
        return try storing(reluBackward, ["ACT": gy]).launch(global: [n], local: LaunchShape.linear(reluBackward, device: device),
                                       .b(mask), .b(gy), .b(gx), .i(n), .i(accumulate ? 1 : 0))
    }

    /// Pooling's 3-D ranges: a row of windows per group (POCL pays per group; GPUs want rows).
    private func poolLocal(_ k: Kernel) -> [Int] { LaunchShape.fit([32, 1, 1], kernel: k, device: device) }

    /// Max pooling; `argmax` gets each window's first maximum (a byte per output) for the backward.
    @discardableResult
    package func maxPool(_ input: Buffer, into output: Buffer, argmax: Buffer, channels c: Int, height h: Int, width w: Int) throws -> Event {
        let outCount = c * (h / 2) * (w / 2)
        need(input, c * h * w, "maxpool input", anyStorage: true); need(output, outCount, "maxpool output", anyStorage: true)
        sameStorage(input, output, "maxpool")
        precondition(argmax.bytes >= outCount, "maxpool argmax too small")
        return try storing(poolForward, ["ACT": input]).launch(global: [max(1, w / 2), max(1, h / 2), c], local: poolLocal(poolForward),
                                      .b(input), .b(output), .b(argmax), .i(c), .i(h), .i(w))
    }

    @discardableResult
    package func maxPoolBackward(argmax: Buffer, gradOutput: Buffer, gradInput: Buffer,
                                channels c: Int, height h: Int, width w: Int, accumulate: Bool = false) throws -> Event {
        let outCount = c * (h / 2) * (w / 2)
        need(gradOutput, outCount, "maxpool gout", anyStorage: true); need(gradInput, c * h * w, "maxpool gin", anyStorage: true)
        sameStorage(gradOutput, gradInput, "maxpool backward")
        precondition(argmax.bytes >= outCount, "maxpool argmax too small")
        return try storing(poolBackward, ["ACT": gradInput]).launch(global: [w.divRoundUp(2), h.divRoundUp(2), c], local: poolLocal(poolBackward),
                                       .b(argmax), .b(gradOutput), .b(gradInput), .i(c), .i(h), .i(w), .i(accumulate ? 1 : 0))
    }

    @discardableResult
    package func avgPool(_ input: Buffer, into output: Buffer, channels c: Int, height h: Int, width w: Int) throws -> Event {
        need(input, c * h * w, "avgpool input", anyStorage: true); need(output, c * (h / 2) * (w / 2), "avgpool output", anyStorage: true)
        sameStorage(input, output, "avgpool")
        return try storing(avgPoolForward, ["ACT": input]).launch(global: [max(1, w / 2), max(1, h / 2), c], local: poolLocal(avgPoolForward),
                                         .b(input), .b(output), .i(c), .i(h), .i(w))
    }

    @discardableResult
    package func avgPoolBackward(gradOutput: Buffer, gradInput: Buffer, channels c: Int, height h: Int, width w: Int,
                                accumulate: Bool = false) throws -> Event {
        need(gradOutput, c * (h / 2) * (w / 2), "avgpool gout", anyStorage: true); need(gradInput, c * h * w, "avgpool gin", anyStorage: true)
        sameStorage(gradOutput, gradInput, "avgpool backward")
        return try storing(avgPoolBackward, ["ACT": gradInput]).launch(global: [w.divRoundUp(2), h.divRoundUp(2), c], local: poolLocal(avgPoolBackward),
                                          .b(gradOutput), .b(gradInput), .i(c), .i(h), .i(w), .i(accumulate ? 1 : 0))
    }

    /// y = a·x + b·y (b = 0 does not read y).
    @discardableResult
    package func axpby(_ a: Float, _ x: Buffer, _ b: Float, _ y: Buffer, count n: Int) throws -> Event {
        need(x, n, "axpby x", anyStorage: true); need(y, n, "axpby y", anyStorage: true)
        return try storing(axpbyKernel, ["X": x, "Y": y]).launch(global: [n], local: LaunchShape.linear(axpbyKernel, device: device),
                                      .i(n), .f(a), .b(x), .f(b), .b(y))
    }

    /// y = (c[plus] − c[minus])·x + b·y: `axpby` with a coefficient the device computed
    /// (L-BFGS's α and β), so the host never waits for it.
    @discardableResult
    package func axpby(_ c: Buffer, plus: Int, minus: Int, _ x: Buffer, _ b: Float, _ y: Buffer, count n: Int) throws -> Event {
        need(x, n, "axpby x"); need(y, n, "axpby y"); need(c, max(plus, minus) + 1, "axpby coefficients")
        return try axpbyScalarsKernel.launch(global: [n], local: LaunchShape.linear(axpbyScalarsKernel, device: device),
                                             .i(n), .b(c), .i(plus), .i(minus), .b(x), .f(b), .b(y))
    }

    /// y (+)= weight · x / (norms[slot] + 1e-8).
    @discardableResult
    package func addNormalized(_ weight: Float, _ x: Buffer, norms: Buffer, slot: Int, into y: Buffer, count n: Int,
                              accumulate: Bool) throws -> Event {
        need(x, n, "addNormalized x"); need(y, n, "addNormalized y", anyStorage: true); need(norms, slot + 1, "norms")
        return try storing(addNormalizedKernel, ["Y": y]).launch(global: [n], local: LaunchShape.linear(addNormalizedKernel, device: device),
                                              .i(n), .f(weight), .b(x), .b(norms), .i(slot), .b(y), .i(accumulate ? 1 : 0))
    }

    /// out (+)= x ⊙ mask, x of C×N, mask of N.
    @discardableResult
    package func maskMultiply(_ x: Buffer, mask: Buffer, into out: Buffer, channels c: Int, count n: Int, accumulate: Bool) throws -> Event {
        need(x, c * n, "mask x", anyStorage: true); need(mask, n, "mask"); need(out, c * n, "mask out", anyStorage: true)
        return try storing(maskMultiplyKernel, ["X": x, "OUT": out]).launch(global: [c * n], local: LaunchShape.linear(maskMultiplyKernel, device: device),
                                             .i(c), .i(n), .b(x), .b(mask), .b(out), .i(accumulate ? 1 : 0))
    }

    // MARK: tiles

    /// tile = the window `rect` (in pixels) of a planar C×H×W image.
    @discardableResult
    package func crop(_ image: Buffer, channels c: Int, height h: Int, width w: Int, window rect: PixelRect, into tile: Buffer) throws -> Event {
        precondition(rect.x0 >= 0 && rect.y0 >= 0 && rect.x1 <= w && rect.y1 <= h, "window \(rect) outside \(w)x\(h)")
        let n = c * rect.height * rect.width
        need(image, c * h * w, "crop image"); need(tile, n, "crop tile")
        return try cropPlanes.launch(global: [n], local: LaunchShape.linear(cropPlanes, device: device),
                                     .b(image), .i(c), .i(h), .i(w), .b(tile), .i(rect.height), .i(rect.width), .i(rect.y0), .i(rect.x0))
    }

    /// The window `rect` of a planar C×H×W image += tile.
    @discardableResult
    package func addTile(_ tile: Buffer, channels c: Int, into image: Buffer, height h: Int, width w: Int, window rect: PixelRect) throws -> Event {
        precondition(rect.x0 >= 0 && rect.y0 >= 0 && rect.x1 <= w && rect.y1 <= h, "window \(rect) outside \(w)x\(h)")
        let n = c * rect.height * rect.width
        need(image, c * h * w, "addTile image"); need(tile, n, "addTile tile")
        return try addTile.launch(global: [n], local: LaunchShape.linear(addTile, device: device),
                                  .b(tile), .i(c), .i(rect.height), .i(rect.width), .b(image), .i(h), .i(w), .i(rect.y0), .i(rect.x0))
    }

    /// A tile's mask at a `width`×`height` layer: 1 on `owned`, 0 elsewhere, times the
    /// `user` window when given (with `root`, its square root); and the result's square into
    /// `squared` when given.
    @discardableResult
    package func tileMask(into mask: Buffer, squared: Buffer?, width w: Int, height h: Int, owned: PixelRect,
                         user: TileMaskSource?, root: Bool = false) throws -> Event {
        need(mask, w * h, "tile mask"); if let squared { need(squared, w * h, "tile mask squared") }
        if let u = user {
            precondition(u.x0 >= 0 && u.y0 >= 0 && u.x0 + w <= u.width && u.y0 + h <= u.height, "mask window outside the layer")
            need(u.values, u.width * u.height, "user mask")
        }
        return try tileMaskKernel.launch(global: [w * h], local: LaunchShape.linear(tileMaskKernel, device: device),
                                         .b(mask), .b(squared ?? mask), .i(squared == nil ? 0 : 1), .i(h), .i(w),
                                         .i(owned.x0), .i(owned.y0), .i(owned.x1), .i(owned.y1),
                                         .b(user?.values ?? mask), .i(user == nil ? 0 : 1), .i(user?.width ?? 0),
                                         .i(user?.y0 ?? 0), .i(user?.x0 ?? 0), .i(root ? 1 : 0))
    }
}

/// A whole layer's user mask (`width`×`height` values) and where a tile's window starts in it.
package struct TileMaskSource {
    package let values: Buffer
    package let width, height: Int
    package let x0, y0: Int
}
