import ArgumentParser
import Foundation
import Impasto

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Kernel microbenchmarks at VGG19's shapes: time, GFLOP/s or GB/s, share of the device's peak.")

    @OptionGroup var deviceOptions: DeviceOptions
    @Option(help: "Image size whose layer shapes are measured.") var size = "500x400"
    @Option(help: "Timed runs per kernel (the median is reported).") var repeats = 5
    @Option(help: "Only these kernel families (comma-separated: conv_fwd, conv_bwd_data (each on the kernel a run chooses), conv_winograd, conv_direct, conv_small (forward on that kernel), relu, maxpool, gram, mse, tv, adam).")
    var only: String?
    @Flag(help: "Print a JSON array.") var json = false

    func run() throws {
        guarded {
            let (w, h) = try parseSize(size)
            guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
            let context = try tunedContext(deviceOptions.selector)
            try Objectives.checkWholeFits(context: context, width: w, height: h, what: "bench --size")
            let bench = try Impasto.Bench(context: context, repeats: repeats)
            let results = try bench.run(width: w, height: h, only: only.map { Set($0.split(separator: ",").map(String.init)) })
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(results), as: UTF8.self))
                return
            }
            print("device: \(context.device.name) (\(context.device.driverVersion))")
            if !bench.eventsPlausible { print("clock: \(bench.clock): times include launch and finish overhead") }
            print(String(format: "peak: %.1f GFLOP/s (FMA), %.1f GB/s (copy); shapes of a %dx%d image", bench.peakGflops, bench.peakGBps, w, h))
            for r in results {
                let rate = r.gflops.map { String(format: "%8.1f GFLOP/s", $0) } ?? String(format: "%8.1f GB/s   ", r.gbps ?? 0)
                var line = String(format: "%-14@ %-8@ %10.3f ms %@ %5.1f%% of peak", r.name as NSString, r.layer as NSString, r.ms, rate, r.peakShare * 100)
                if let algorithm = r.algorithm, let bandwidth = r.bandwidthShare {
                    line += String(format: " %5.1f%% of copy  %@", bandwidth * 100, algorithm as NSString)
                }
                if let split = r.kernels, split.count > 1 {  // where the time goes inside a multi-kernel op
                    line += "  (" + split.sorted { $0.key < $1.key }.map { "\($0.key) " + String(format: "%.1f", $0.value) }.joined(separator: ", ") + ")"
                }
                print(line)
            }
        }
    }
}
