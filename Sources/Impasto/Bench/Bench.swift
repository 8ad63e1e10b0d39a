import Foundation

/// Kernel microbenchmarks at VGG19's shapes for a given image size: device time per kernel
/// family, effective GFLOP/s (convolutions counted as a direct convolution, 2·Cin·Cout·9·H·W,
/// so algorithms compare fairly) or GB/s, and the share of the device's measured peak (for
/// convolutions also of its copy bandwidth, and the kernel each ran on).
package struct BenchResult: Codable {
    package let name: String
    package let layer: String
    package let ms: Double
    package var gflops: Double?
    package var gbps: Double?
    package var peakShare: Double
    /// Milliseconds per OpenCL kernel within `ms` (a Winograd convolution is four kernels).
    package var kernels: [String: Double]?
    /// "events" (the device's profiling clock) or "wall" (it was not plausible).
    package var clock = "events"
    /// A convolution's kernel (`ConvKernel`).
    package var algorithm: String?
    /// A convolution's least traffic (input, output and weights once) per second over the copy
    /// bandwidth: with `peakShare` (its FLOPs over the FMA peak), where it sits on the roofline.
    package var bandwidthShare: Double?

    enum CodingKeys: String, CodingKey {
        case name, layer, ms, gflops, gbps, peakShare = "peak_share", kernels, clock, algorithm, bandwidthShare = "bandwidth_share"
    }
}

package final class Bench {
    let k: Kernels
    let ctx: CLContext
    package let repeats: Int
    package private(set) var peakGflops = 0.0
    package private(set) var peakGBps = 0.0
    /// False once a run's profiling events summed to under 1/50 of its wall time (rusticl on
    /// llvmpipe reads about 1 ns for everything): from then on every figure is wall time.
    package private(set) var eventsPlausible = true
    /// The one rule for the profiling clock: device time under 1/50 of the wall time is not
    /// a measurement (rusticl on llvmpipe reads about 1 ns for every event).
    package static func plausible(device: Double, wall: Double) -> Bool { device >= wall / 50 }

    package var clock: String { eventsPlausible ? "profiling events" : "wall clock (the device's profiling events are not plausible)" }

    package init(context: CLContext, repeats: Int = 5) throws {
        ctx = context
        k = try Kernels(context: context)
        self.repeats = max(1, repeats)
    }

    /// Device seconds of `run`, the median over `repeats` runs after one warm-up, and that
    /// run's seconds per kernel (by the wall clock, after a finish, where events are implausible).
    func time(_ run: () throws -> [Event]) throws -> (Double, [String: Double]) {
        try ctx.recordingEvents { try timeRecorded(run) }
    }

    private func timeRecorded(_ run: () throws -> [Event]) throws -> (Double, [String: Double]) {
        _ = try run()
        try ctx.finish()
        var profiled: [(Double, [String: Double])] = [], walls: [Double] = []
        for _ in 0..<repeats {
            var events: [Event] = []
            walls.append(try Autotune.wallSeconds { events = try run(); try ctx.finish() })
            var split: [String: Double] = [:]
            for e in events { split[e.label, default: 0] += try e.seconds() }
            profiled.append((split.values.reduce(0, +), split))
        }
        if zip(profiled, walls).contains(where: { !Self.plausible(device: $0.0.0, wall: $0.1) }) { eventsPlausible = false }
        let samples = eventsPlausible ? profiled : walls.map { ($0, ["wall clock": $0]) }
        return samples.sorted { $0.0 < $1.0 }[samples.count / 2]
    }

    /// The FMA-bound and copy kernels: what "peak" means on this device.
    package func measurePeaks() throws -> [BenchResult] {
        let fma = try ctx.kernel("peak", "fma_peak", defines: ["ITER": "4096"])
        let items = max(ctx.device.computeUnits, 1) * 1024
        let out = try ctx.buffer(floats: items)
        let local = LaunchShape.fit(ctx.device.isCPU ? [1] : [64], kernel: fma, device: ctx.device)
        let (tf, _) = try time { [try fma.launch(global: [items], local: local, .b(out), .f(0.999), .f(0.001))] }
        peakGflops = Double(items) * 8 * 16 * 4096 * 2 / tf / 1e9
        let copy = try ctx.kernel("peak", "copy")
        let n = 32 << 20  // 128 MiB each way
        let src = try ctx.buffer([Float](repeating: 1, count: n)), dst = try ctx.buffer(floats: n)
        let (tc, _) = try time { [try copy.launch(global: [n / 4], local: LaunchShape.linear(copy, device: ctx.device), .b(src), .b(dst), .i(n / 4))] }
        peakGBps = Double(n) * 8 / tc / 1e9
        return [BenchResult(name: "peak_fma", layer: "-", ms: tf * 1e3, gflops: peakGflops, peakShare: 1, clock: eventsPlausible ? "events" : "wall"),
                BenchResult(name: "peak_copy", layer: "-", ms: tc * 1e3, gbps: peakGBps, peakShare: 1, clock: eventsPlausible ? "events" : "wall")]
    }

    func compute(_ name: String, _ layer: String, flops: Double, _ run: () throws -> [Event]) throws -> BenchResult {
        let (t, split) = try time(run)
        let g = flops / t / 1e9
        return BenchResult(name: name, layer: layer, ms: t * 1e3, gflops: g, peakShare: peakGflops > 0 ? g / peakGflops : 0,
                           kernels: split.mapValues { $0 * 1e3 }, clock: eventsPlausible ? "events" : "wall")
    }

    func memory(_ name: String, _ layer: String, bytes: Double, _ run: () throws -> [Event]) throws -> BenchResult {
        let (t, split) = try time(run)
        let g = bytes / t / 1e9
        return BenchResult(name: name, layer: layer, ms: t * 1e3, gbps: g, peakShare: peakGBps > 0 ? g / peakGBps : 0,
                           kernels: split.mapValues { $0 * 1e3 }, clock: eventsPlausible ? "events" : "wall")
    }

    /// Every kernel family at the shapes VGG19 gives a `width`×`height` image. `only` filters
    /// by family name.
    package func run(width: Int, height: Int, only: Set<String>? = nil) throws -> [BenchResult] {
        var results = try measurePeaks()
        func wanted(_ n: String) -> Bool { only?.contains(n) ?? true }
        var rng = SplitMix64(seed: 1)
        func random(_ n: Int) throws -> Buffer { try ctx.buffer((0..<n).map { _ in Float(rng.normal()) }) }

        // Convolutions, layer by layer: each direction on the kernel a run would choose, and
        // forward on each kernel for comparison.
        let scratch = WinogradScratch(maxTiles: k.tuning.winogradTiles)
        var (c, h, w) = (3, height, width)
        for i in 0...VGG19.lastModule {
            if VGG19.poolIndices.contains(i) { h /= 2; w /= 2; continue }
            guard let cout = VGG19.realWidths[i] else { continue }
            let name = VGG19.name(of: i)
            let input = try random(max(c, cout) * h * w), output = try ctx.buffer(floats: max(c, cout) * h * w)
            let raw = try ctx.buffer((0..<(c * cout * 9)).map { _ in Float(rng.normal()) * 0.05 })
            let wf = try ctx.buffer((0..<(c * 9 * ConvLayout.paddedChannels(cout))).map { _ in Float(rng.normal()) * 0.05 })
            let wb = try ctx.buffer((0..<(cout * 9 * ConvLayout.paddedChannels(c))).map { _ in Float(rng.normal()) * 0.05 })
            let bias = try ctx.buffer([Float](repeating: 0, count: max(c, cout).roundedUp(to: Kernels.convOCB)))
            let forward = ConvShape(cin: c, cout: cout, height: h, width: w, backward: false)
            let backward = ConvShape(cin: cout, cout: c, height: h, width: w, backward: true)
            func conv(_ family: String, _ kernel: ConvKernel, _ shape: ConvShape) throws -> BenchResult {
                var r = try compute(family, name, flops: shape.flops) {
                    try k.conv(kernel, shape: shape, input: input, output: output, raw: raw, laid: shape.backward ? wb : wf,
                               bias: bias, scratch: scratch)
                }
                r.algorithm = kernel.description
                r.bandwidthShare = peakGBps > 0 ? shape.bytes / (r.ms / 1e3) / 1e9 / peakGBps : 0
                return r
            }
            for (family, shape) in [("conv_fwd", forward), ("conv_bwd_data", backward)] where wanted(family) {
                results.append(try conv(family, try ctx.convChoices.kernel(for: shape, algorithm: .auto, kernels: k), shape))
            }
            for (family, algorithm) in [("conv_winograd", ConvAlgorithm.winograd), ("conv_direct", .direct), ("conv_small", .smallMap)]
            where wanted(family) {
                let kernel = ConvKernel.forced(algorithm, for: forward)
                if family == "conv_direct" || kernel != .direct { results.append(try conv(family, kernel, forward)) }
            }
            c = cout
        }

        // Elementwise and reductions at conv1's shape (the largest).
        let n1 = 64 * height * width
        let a = try random(n1), b = try random(n1), g = try random(n1)
        let bits = try ctx.buffer(floats: Kernels.reluMaskBytes(n1) / 4), argmax = try ctx.buffer(floats: n1 / 16 + 1)
        if wanted("relu") {
            results.append(try memory("relu", "relu1_1", bytes: Double(n1) * 8.125) { [try k.relu(a, into: b, mask: bits, count: n1)] })
            results.append(try memory("relu_bwd", "relu1_1", bytes: Double(n1) * 8.125) {
                [try k.reluBackward(mask: bits, gradOutput: g, gradInput: b, count: n1)]
            })
        }
        if wanted("maxpool") {
            results.append(try memory("maxpool", "pool1", bytes: Double(n1) * 5.25) {
                [try k.maxPool(a, into: b, argmax: argmax, channels: 64, height: height, width: width)]
            })
            results.append(try memory("maxpool_bwd", "pool1", bytes: Double(n1) * 5.25) {
                [try k.maxPoolBackward(argmax: argmax, gradOutput: g, gradInput: b, channels: 64, height: height, width: width)]
            })
        }
        if wanted("gram") {
            for (layer, cg, hw) in [("conv1_1", 64, height * width), ("conv3_1", 256, height * width / 16), ("conv4_1", 512, height * width / 64), ("conv5_1", 512, height * width / 256)] {
                let f = try random(cg * hw), gm = try ctx.buffer(floats: cg * cg)
                let scratch = try ctx.buffer(floats: Kernels.gramScratchCount(c: cg, n: hw))
                results.append(try compute("gram", layer, flops: 2.0 * Double(cg * cg * hw)) {
                    try k.gram(f, into: gm, scratch: scratch, channels: cg, count: hw, scale: 1)
                })
                results.append(try compute("gram_bwd", layer, flops: 2.0 * Double(cg * cg * hw)) {
                    [try k.gramBackward(s: gm, f: f, gradF: b, channels: cg, count: hw, accumulate: false)]
                })
            }
        }
        let partials = try ctx.buffer(floats: Kernels.partialCount), losses = try ctx.buffer(floats: 4)
        if wanted("mse") {
            results.append(try memory("mse", "conv4_4", bytes: Double(n1) * 8) {
                try k.sumSquaredDifference(a, b, count: n1, partials: partials, losses: losses, slot: 0, scale: 1)
            })
        }
        let n3 = 3 * height * width
        if wanted("tv") {
            results.append(try memory("tv", "image", bytes: Double(n3) * 4) {
                try k.tv(a, channels: 3, height: height, width: width, weight: 1, partials: partials, losses: losses, slot: 0)
            })
            results.append(try memory("tv_bwd", "image", bytes: Double(n3) * 8) {
                [try k.tvBackward(a, grad: b, channels: 3, height: height, width: width, weight: 1, accumulate: false)]
            })
        }
        if wanted("adam") {
            let m = try ctx.buffer([Float](repeating: 0, count: n3)), v = try ctx.buffer([Float](repeating: 0, count: n3))
            results.append(try memory("adam", "image", bytes: Double(n3) * 28) {
                [try k.adamStep(x: a, grad: g, m: m, v: v, count: n3, lr: 0.01, t: 1)]
            })
        }
        return results
    }
}
