import ArgumentParser
import Foundation
import Impasto

struct Profile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time forward+backward passes of the style objective and show device time per op.")

    @OptionGroup var deviceOptions: DeviceOptions
    @Option(help: "Image size, width x height.") var size = "500x400"
    @Option(help: "Iterations to time (after one warm-up).") var iterations = 3
    @Option(help: "random[:SEED] or a weights file.") var weights = "random:1"
    @Option(help: "Storage of activations and gradients: fp32 or fp16.") var storage = Storage.fp32

    func validate() throws {
        _ = try parseSize(size)
        guard iterations > 0 else { throw ValidationError("--iterations must be at least 1") }
    }

    func run() throws {
        guarded {
            let (w, h) = try parseSize(size)
            let context = try tunedContext(deviceOptions.selector)
            let vgg = try loadWeights(weights)
            try checkWholeImageFits(context, w, h, command: "profile", weights: vgg)
            var config = LossConfig()
            config.storage = storage
            let model = try WholeImageObjective(context: context, weights: vgg, width: w, height: h, config: config)
            let adam = try AdamOptimizer(objective: model)
            var rng = SplitMix64(seed: 9)
            let n = 3 * w * h
            try model.setStyle((0..<n).map { _ in Float(rng.normal()) })
            try model.setContent((0..<n).map { _ in Float(rng.normal()) })
            _ = try adam.step(rate: 0.3)  // warm-up: kernels specialise on first launch
            model.network.profiling = true
            let start = Date()
            for _ in 0..<iterations { _ = try adam.step(rate: 0.3) }
            let wall = Date().timeIntervalSince(start) / Double(iterations)
            let profile = try model.network.profile()
            print("device: \(context.device.name)")
            print("size \(w)x\(h), weights \(vgg.origin)")
            print(String(format: "device memory planned: %.1f MiB (activations and gradients %.1f MiB)",
                         Double(model.deviceBytes + adam.deviceBytes) / 1_048_576, Double(model.network.plan.totalBytes) / 1_048_576))
            print(String(format: "wall time per iteration (forward + backward + Adam): %.3f s", wall))
            let total = profile.values.reduce(0, +) / Double(iterations)
            print(String(format: "device time per iteration: %.3f s", total))
            if total < wall / 50 {  // rusticl on llvmpipe: every event reads about 1 ns
                print("note: the device's profiling events are not plausible (under 1/50 of the wall time), so the split below is meaningless here; the wall time above stands")
            }
            for (name, t) in profile.sorted(by: { $0.value > $1.value }) {
                let per = t / Double(iterations)
                print(String(format: "  %-24@ %9.2f ms  %5.1f%%", name as NSString, per * 1000, 100 * per / max(total, 1e-12)))
            }
        }
    }
}
