import ArgumentParser
import Foundation
import Impasto

struct Flow: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Optical flow between two pictures, on the device, as a Middlebury .flo file.",
        discussion: """
        Horn-Schunck with warping, coarse to fine, with a median after each warp (the flow impasto video \
        uses). The flow maps each pixel of FIRST to where it is in SECOND. --backward also writes SECOND \
        to FIRST's, --reliability the picture of where the two agree (white) that the temporal loss uses.
        """)

    @OptionGroup var deviceOptions: DeviceOptions
    @Argument(help: "The first picture.") var first: String
    @Argument(help: "The second picture (resized to the first's size or --size).") var second: String
    @Option(help: "Where to write the flow (.flo).") var output: String
    @Option(help: "Also write the flow from SECOND to FIRST here (.flo).") var backward: String?
    @Option(help: "Also write the reliability of SECOND warped to FIRST (white: consistent) here (.png).") var reliability: String?
    @Option(help: "Compute at WIDTHxHEIGHT (default: the first picture's size).") var size: String?
    @OptionGroup var flowOptions: FlowOptions
    @Option(help: "Refuse input images with more pixels than this.") var maxPixels = ImageFile.defaultMaxPixels

    func validate() throws {
        if let size { _ = try parseSize(size) }
        try flowOptions.check()
        for (path, option) in [(output, "--output"), (backward, "--backward")] {
            if let path, URL(fileURLWithPath: path).pathExtension.lowercased() != "flo" { throw ValidationError("\(option) must name a .flo file") }
        }
        if let reliability, URL(fileURLWithPath: reliability).pathExtension.lowercased() != "png" {
            throw ValidationError("--reliability must name a .png file")
        }
    }

    func run() throws {
        guarded {
            var job = FlowJob(first: first, second: second, output: output)
            (job.backward, job.reliability, job.settings, job.maxPixels) = (backward, reliability, flowOptions.settings, maxPixels)
            job.size = try size.map { try StylizeSettings.Size(parsing: $0) }
            let (done, context) = try job.run(context: { try tunedContext(deviceOptions.selector, quiet: true) },
                                              names: FieldNames { ["first": "FIRST", "second": "SECOND"][$0] ?? optionNames($0) })
            writeStderr(String(format: "wrote %@ (%dx%d, %d levels, %.2f s on %@)\n", output, done.width, done.height, done.levels, done.seconds, context.device.name))
        }
    }
}

/// The optical-flow settings `flow` and `video` share.
struct FlowOptions: ParsableArguments {
    @Option(help: "Flow smoothness (grey levels per pixel of flow; larger is smoother).") var flowAlpha: Float = FlowSettings().alpha
    @Option(help: "Flow linearisations per pyramid level.") var flowWarps = FlowSettings().warps
    @Option(help: "Flow solver sweeps per linearisation.") var flowSweeps = FlowSettings().sweeps

    func check() throws {
        guard flowAlpha.isFinite, (0.001...10_000).contains(flowAlpha) else { throw ValidationError("--flow-alpha must be a number from 0.001 to 10000") }
        guard (1...100).contains(flowWarps) else { throw ValidationError("--flow-warps must be between 1 and 100") }
        guard (1...1000).contains(flowSweeps) else { throw ValidationError("--flow-sweeps must be between 1 and 1000") }
    }

    var settings: FlowSettings {
        var s = FlowSettings()
        (s.alpha, s.warps, s.sweeps) = (flowAlpha, flowWarps, flowSweeps)
        return s
    }
}
