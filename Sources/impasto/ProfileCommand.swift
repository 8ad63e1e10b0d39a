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
            try Objectives.checkWholeFits(context: context, width: w, height: h, what: "profile --size", weights: vgg)
            let p = try ObjectiveProfile(context: context, weights: vgg, width: w, height: h, storage: storage, iterations: iterations)
            print("device: \(context.device.name)")
            print("size \(w)x\(h), weights \(vgg.origin)")
            print(String(format: "device memory planned: %.1f MiB (activations and gradients %.1f MiB)",
                         Double(p.plannedBytes) / 1_048_576, Double(p.activationBytes) / 1_048_576))
            print(String(format: "wall time per iteration (forward + backward + Adam): %.3f s", p.wall))
            print(String(format: "device time per iteration: %.3f s", p.device))
            if !p.plausible {
                print("note: the device's profiling events are not plausible (under 1/50 of the wall time), so the split below is meaningless here; the wall time above stands")
            }
            // The roofline: each convolution's FLOPs against the FMA peak, its least traffic against the copy bandwidth.
            let peaks = try Impasto.Bench(context: context, repeats: 3)
            _ = try peaks.measurePeaks()
            print(String(format: "peak: %.1f GFLOP/s (FMA), %.1f GB/s (copy)", peaks.peakGflops, peaks.peakGBps))
            for (name, per) in p.ops.sorted(by: { $0.value > $1.value }) {
                var line = String(format: "  %-30@ %9.2f ms  %5.1f%%", name as NSString, per * 1000, 100 * per / max(p.device, 1e-12))
                if let conv = p.convs[name], per > 0 {
                    line += String(format: "  %-28@ %5.1f%% of FMA peak, %5.1f%% of copy", conv.choice as NSString,
                                   100 * conv.shape.flops / per / 1e9 / peaks.peakGflops, 100 * conv.shape.bytes / per / 1e9 / peaks.peakGBps)
                }
                print(line)
            }
        }
    }
}
