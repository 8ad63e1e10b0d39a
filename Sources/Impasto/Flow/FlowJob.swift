import Foundation

/// `impasto flow`: the optical flow between two pictures as Middlebury .flo files (and the
/// backward flow and the reliability picture the temporal loss uses), all written or none.
package struct FlowJob {
    package var first, second, output: String
    package var backward, reliability: String?
    /// Compute at this size (default: the first picture's).
    package var size: StylizeSettings.Size?
    package var settings = FlowSettings()
    package var maxPixels = ImageFile.defaultMaxPixels

    package init(first: String, second: String, output: String) { (self.first, self.second, self.output) = (first, second, output) }

    /// What the run says when it is done.
    package struct Outcome { package let width, height, levels: Int; package let seconds: Double }

    /// The inputs guarded, the outputs checked, the flows computed and written, all or none.
    package func run(context make: () throws -> CLContext, names: FieldNames = .fields) throws -> (Outcome, CLContext) {
        var outputs = OutputGuard()
        try outputs.protect(first, as: names("first"))
        try outputs.protect(second, as: names("second"))
        let targets = [(names("output"), output), (names("backward"), backward), (names("reliability"), reliability)].compactMap { o, p in p.map { (o, $0) } }
        for (option, path) in targets {
            try outputs.checkReplaceable(path, option: option)
            try outputs.claim(path, as: option)
        }
        let a = try ImageFile.read(first, maxPixels: maxPixels), b0 = try ImageFile.read(second, maxPixels: maxPixels)
        let (w, h) = size.map { ($0.width, $0.height) } ?? (a.width, a.height)
        try HostMemory.check(width: w, height: h, bytesPerPixel: 64, what: "flow \(names("size"))")
        let context = try make()
        let flow = try OpticalFlow(kernels: FlowKernels(context: context), width: w, height: h, settings: settings)
        let start = Date()
        let pa = try flow.pyramid(a.resized(width: w, height: h)), pb = try flow.pyramid(b0.resized(width: w, height: h))
        let forward = try flow.flow(from: pa, to: pb)
        var back: Buffer?
        if backward != nil || reliability != nil { back = try flow.flow(from: pb, to: pa) }
        let field = FlowField(width: w, height: h, values: try forward.read(count: 2 * w * h))
        let backField = try back.map { FlowField(width: w, height: h, values: try $0.read(count: 2 * w * h)) }
        let seconds = Date().timeIntervalSince(start)
        guard field.values.allSatisfy(\.isFinite), backField?.values.allSatisfy(\.isFinite) ?? true else {
            throw FileError("the flow is not finite with these settings (\(names("flowAlpha")) \(settings.alpha)); nothing written")
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
        return (Outcome(width: w, height: h, levels: flow.levels.count, seconds: seconds), context)
    }
}
