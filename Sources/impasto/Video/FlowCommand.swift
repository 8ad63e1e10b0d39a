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
            var outputs = OutputGuard()
            try outputs.protect(first, as: "FIRST")
            try outputs.protect(second, as: "SECOND")
            let targets = [("--output", output), ("--backward", backward), ("--reliability", reliability)].compactMap { o, p in p.map { (o, $0) } }
            for (option, path) in targets {
                try outputs.checkReplaceable(path, option: option)
                try outputs.claim(path, as: option)
            }
            let a = try ImageFile.read(first, maxPixels: maxPixels), b0 = try ImageFile.read(second, maxPixels: maxPixels)
            let (w, h) = try size.map(parseSize) ?? (a.width, a.height)
            try HostMemory.check(width: w, height: h, bytesPerPixel: 64, what: "flow --size")
            let context = try tunedContext(deviceOptions.selector, quiet: true)
            let flow = try OpticalFlow(kernels: FlowKernels(context: context), width: w, height: h, settings: flowOptions.settings)
            let start = Date()
            let pa = try flow.pyramid(a.resized(width: w, height: h)), pb = try flow.pyramid(b0.resized(width: w, height: h))
            let forward = try flow.flow(from: pa, to: pb)
            var back: Buffer?
            if backward != nil || reliability != nil { back = try flow.flow(from: pb, to: pa) }
            let field = FlowField(width: w, height: h, values: try forward.read(count: 2 * w * h))
            let backField = try back.map { FlowField(width: w, height: h, values: try $0.read(count: 2 * w * h)) }
            let seconds = Date().timeIntervalSince(start)
            guard field.values.allSatisfy(\.isFinite), backField?.values.allSatisfy(\.isFinite) ?? true else {
                throw FileError("the flow is not finite with these settings (--flow-alpha \(flowOptions.flowAlpha)); nothing written")
            }
            PendingFile.removeStale(besides: targets.map(\.1))
            // All or nothing: each file to a temporary name, then all renamed into place.
            var written: [(tmp: String, path: String)] = []
            func temporary(_ path: String) -> String {
                let url = URL(fileURLWithPath: path)
                return url.deletingLastPathComponent().appendingPathComponent(".\(url.deletingPathExtension().lastPathComponent).\(getpid()).part.\(url.pathExtension)").path
            }
            do {
                written.append((temporary(output), output))
                try field.write(flo: written.last!.tmp)
                if let backward, let backField {
                    written.append((temporary(backward), backward))
                    try backField.write(flo: written.last!.tmp)
                }
                if let reliability, let back {
                    let weights = try flow.reliability(backward: back, forward: forward)
                    written.append((temporary(reliability), reliability))
                    try ImageFile.write(RGBImage(width: w, height: h, pixels: weights.flatMap { [$0, $0, $0] }), to: written.last!.tmp)
                }
                for (tmp, path) in written where rename(tmp, path) != 0 {
                    throw FileError("\(InputFile.display(path)): cannot move the file into place (\(InputFile.reason(errno)))")
                }
            } catch {
                for (tmp, _) in written { unlink(tmp) }
                throw error
            }
            writeStderr(String(format: "wrote %@ (%dx%d, %d levels, %.2f s on %@)\n", output, w, h, flow.levels.count, seconds, context.device.name))
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
