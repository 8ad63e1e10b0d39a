import ArgumentParser
import Foundation
import Impasto

/// `video`: frames in order, each stylized with its temporal guide and written before the
/// next starts, the state (frames done, the balanced weights) kept beside them for a resume.
extension Video {
    /// What `perform` needs that is read and checked before any device work.
    struct Plan {
        let template: Stylize
        let frameDir: String
        let outputs: OutputGuard
        let source: FrameSource
        let first: RGBImage
        let styles: [RGBImage]
        let initPicture: RGBImage?
        let mask: RGBImage?
        let width, height: Int
        let sizes: [(Int, Int)]
        let firstIterations: [Int]
        let frameIterations: Int
    }

    /// What a finished or stopped video run did.
    struct Outcome {
        let frames: Int
        let interrupted: Bool
        let losses: LossTerms?
    }

    func runVideo() throws {
        Interrupt.install()  // before prepare: a signal while ffprobe runs ends it cleanly
        let plan = try prepare()
        let progress = ProgressDisplay(total: 0, quiet: plan.template.quiet)
        let context = try tunedContext(deviceOptions.selector, quiet: plan.template.quiet)
        try plan.template.lossConfig().check(on: context.device)
        let (vgg, randomWeights) = try plan.template.resolveWeights(progress)
        let stylization = Stylization(context: context, weights: vgg, keepsWarm: true)
        let outcome = try perform(plan, on: stylization, randomWeights: randomWeights, key: try videoKey(plan.template), progress: progress)
        if outcome.interrupted { Foundation.exit(Interrupt.exitStatus) }
    }

    /// The frames' stand-in content file: the first frame's, or the video (both guarded as inputs).
    func standIn() throws -> String { try frames.map { try DirectoryFrames($0, maxPixels: Int.max).files[0] } ?? input! }

    /// Where the frames go: --output-dir, or a work folder of the run's own beside --output,
    /// removed after encoding.
    var frameDir: String { outputDir ?? (output! + ".frames") }
    /// What `batch` checks, marks done and reports.
    var result: String { outputDir ?? output! }
    /// The option that names the frame folder, for messages.
    var frameDirOption: String { outputDir != nil ? "--output-dir" : "--output's work folder" }

    /// Names a video writes in its frame folder: frames, their checkpoints, its state, its
    /// work-folder mark and the later passes' content folder.
    static func writes(_ name: String) -> Bool {
        isFrameName(name) || (name.hasPrefix(".frame_") && name.hasSuffix(".checkpoint"))
            || [VideoState.fileName, WorkFolder.markName, ".content"].contains(name)
    }

    /// frame_NNNNNN.png
    static func isFrameName(_ name: String) -> Bool {
        name.count == 16 && name.hasPrefix("frame_") && name.hasSuffix(".png") && name.dropFirst(6).prefix(6).allSatisfy(\.isNumber)
    }

    /// Every file the video reads: each frame (or the video file) and the stylize options' files.
    func inputFiles(_ template: Stylize) throws -> [(path: String, option: String)] {
        var files = template.inputFiles().filter { $0.option != "--content" }
        if let frames { files += try DirectoryFrames(frames, maxPixels: Int.max).files.map { ($0, "--frames") } }
        if let input { files.append((input, "--input")) }
        return files
    }

    /// The video's outputs checked against `base` and every input (each frame's name, and
    /// everything already in the frame folder that the run may write), and claimed in it.
    func guardFiles(_ template: Stylize, _ base: OutputGuard, label: String = "") throws -> OutputGuard {
        var outputs = base
        for (path, option) in try inputFiles(template) { try outputs.protect(path, as: label + option) }
        if let frames, OutputGuard.isInside(frameDir, frames) || OutputGuard.isInside(frames, frameDir) {
            throw FileError("\(label)\(frameDirOption) \(InputFile.display(frameDir)) and --frames \(InputFile.display(frames)) overlap; the stylized frames need a folder of their own")
        }
        if let output {
            try outputs.checkReplaceable(output, option: label + "--output")
            try outputs.claim(output, as: label + "--output")
        }
        var st = stat()
        // --output-dir may be a link to a folder; the work folder must be a folder itself.
        if (outputDir != nil ? stat(frameDir, &st) : lstat(frameDir, &st)) == 0 {
            guard st.st_mode & S_IFMT == S_IFDIR else {
                throw FileError("\(label)\(frameDirOption) \(InputFile.display(frameDir)) is \(st.st_mode & S_IFMT == S_IFLNK ? "a symbolic link" : InputFile.kind(st.st_mode) ?? "not a folder"), not a folder of its own")
            }
            try outputs.checkFolder(frameDir, option: label + frameDirOption, writes: Self.writes)
            let content = URL(fileURLWithPath: frameDir).appendingPathComponent(".content").path
            if lstat(content, &st) == 0 {
                guard st.st_mode & S_IFMT == S_IFDIR else { throw FileError("\(label)\(InputFile.display(content)) is not a folder") }
                try outputs.checkFolder(content, option: label + frameDirOption, writes: Self.isFrameName)
            }
        }
        try outputs.claim(frameDir, as: label + frameDirOption)
        return outputs
    }

    /// `batch`'s check before any work: the inputs are there, the outputs replaceable; the
    /// stylize options (their weights, their files) returned.
    func checkFiles() throws -> Stylize {
        if let input { _ = try InputFile.check(input) }
        let probe = FileManager.default.temporaryDirectory.appendingPathComponent("impasto-video-\(UUID().uuidString).png").path
        return try stylize(output: probe, content: try standIn())
    }

    /// The files checked (inputs read, outputs replaceable, the frame folder made), the source
    /// opened and the first frame read, the schedule fixed.
    func prepare() throws -> Plan {
        let frameDir = self.frameDir
        let template = try stylize(output: Self.framePath(frameDir, 0), content: try standIn())
        let outputs = try guardFiles(template, OutputGuard())
        if let output {
            _ = try FFmpeg.tool("ffmpeg")  // now, not after the frames
            try FFmpeg.checkOutput(output)
        }
        let created = outputDir != nil ? try WorkFolder.makeIfMissing(frameDir, option: frameDirOption)
                                       : try WorkFolder.adopt(frameDir, option: frameDirOption)
        do {
            let source: FrameSource = try frames.map { try DirectoryFrames($0, maxPixels: template.maxPixels) }
                ?? FFmpegFrames(input!, maxPixels: template.maxPixels)
            func read(_ path: String) throws -> RGBImage { try ImageFile.read(path, maxPixels: template.maxPixels) }
            let styles = try template.style.map(read)
            var initPicture: RGBImage?
            if case .file(let path) = template.initImage { initPicture = try read(path) }
            let mask = try template.mask.map(read)
            guard let first = try source.next() else { throw FileError("the video has no frames") }
            let (w, h) = try template.outputSize(for: first)
            try HostMemory.check(width: w, height: h, bytesPerPixel: 160, what: "video")
            let sizes = try template.scaleSchedule(w, h)
            var firstIterations = try template.iterationSchedule(scales: sizes.count)
            if let n = firstFrameIterations { firstIterations = Array(repeating: n, count: sizes.count) }
            return Plan(template: template, frameDir: frameDir, outputs: outputs, source: source, first: first, styles: styles,
                        initPicture: initPicture, mask: mask, width: w, height: h, sizes: sizes, firstIterations: firstIterations,
                        frameIterations: frameIterations ?? max(1, firstIterations.last! / 2))
        } catch {
            if created { WorkFolder.remove(frameDir) }  // only what impasto made
            throw error
        }
    }

    /// Every frame not finished before, on `stylization`'s device and weights (`batch` calls it
    /// with its warm one); a stop leaves the frame's checkpoint and returns `interrupted`.
    func perform(_ plan: Plan, on stylization: Stylization, randomWeights: Bool, key: String, progress: ProgressDisplay) throws -> Outcome {
        let template = plan.template, frameDir = plan.frameDir, (w, h) = (plan.width, plan.height)
        var state = VideoState.load(frameDir, key: key)
        var settings = TemporalSettings()
        (settings.weight, settings.frames, settings.flow) = (temporalWeight, try temporalDistances(), flowOptions.settings)
        let video = try VideoStylization(stylization: stylization, width: w, height: h, settings: settings, frameIterations: plan.frameIterations)
        video.balancedWeights = state.weights.map { ($0[0], $0[1], $0[2]) }
        if state.done > 0 || state.pass > 1 {
            progress.message("video: resuming " + (state.pass > 1 ? "pass \(state.pass) " : "") + "after \(state.done) finished frames in \(frameDir)")
        }

        var stylized: [Int: RGBImage] = [:]
        var frame: RGBImage? = plan.first, index = state.frames ?? 0
        var losses: LossTerms?
        let standIn = try self.standIn()
        let start = Date()
        func request(_ content: RGBImage) throws -> StylizeRequest {
            var base = try template.request(content: content, styles: plan.styles, initPicture: plan.initPicture, mask: plan.mask,
                                            sizes: plan.sizes, iterations: plan.firstIterations)
            base.balanceWeights = randomWeights
            video.frameLearningRate = frameLr ?? VideoStylization.defaultFrameLearningRate(for: base)
            return base
        }
        /// One frame's run into its file; false: stopped.
        func run(_ request: StylizeRequest, frame: Int, label: String) throws -> Bool {
            try plan.outputs.checkReplaceable(Self.framePath(frameDir, frame), option: frameDirOption)  // each frame, not only the first
            let command = try stylize(output: Self.framePath(frameDir, frame), content: standIn)
            progress.message("video: \(label)")
            let (result, display) = try command.perform(request, on: stylization, randomWeights: randomWeights, outputs: plan.outputs,
                                                        checkpoint: (Self.checkpointPath(frameDir, frame), key + " pass \(state.pass) frame \(frame)"),
                                                        writeInterrupted: false, extraObservers: [VideoStylization.WeightsObserver(video)])
            if result.interrupted {
                display.message("video: interrupted in frame \(frame + 1) after \(result.iterations) iterations; the same command resumes there")
                return false
            }
            losses = result.losses
            stylized[frame] = result.picture.quantized
            state.weights = video.balancedWeights.map { [$0.content, $0.style, $0.tv] }
            return true
        }
        if passes > 1 {
            try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: frameDir).appendingPathComponent(".content").path,
                                                    withIntermediateDirectories: true)
        }
        if state.pass == 1 {
            index = 0
            while let picture = frame, index < (frameCount ?? Int.max) {
                let content = picture.resized(width: w, height: h)
                try video.remember(frame: index, content: content)
                if passes > 1 && !FileManager.default.fileExists(atPath: Self.contentPath(frameDir, index)) {
                    try ImageFile.write(content, to: Self.contentPath(frameDir, index))  // the later passes' content
                }
                if index < state.done {
                    stylized[index] = try ImageFile.read(Self.framePath(frameDir, index))
                } else {
                    let (r, guide) = try video.request(frame: index, base: try request(picture), stylized: stylized, userFlows: userFlows)
                    let coverage = guide.map { String(format: ", %.0f%% of it held to earlier frames", 100 * $0.covered) } ?? ""
                    guard try run(r, frame: index, label: "frame \(index + 1)\(coverage)") else {
                        return Outcome(frames: index, interrupted: true, losses: losses)
                    }
                    state.done = index + 1
                    try state.save(frameDir)
                }
                for old in stylized.keys where old < index - (settings.frames.max() ?? 1) { stylized[old] = nil }
                index += 1
                frame = index < (frameCount ?? Int.max) ? try plan.source.next() : nil
            }
            if passes > 1 {  // one pass: a rerun reads the frames back and may go on past them (--frame-count)
                (state.frames, state.pass, state.done) = (index, 2, 0)
                try state.save(frameDir)
            }
        }
        // Later passes, in alternating directions, from the frames as written.
        let passFrames = index
        while passes > 1 && state.pass <= passes {
            for (n, (i, m)) in VideoStylization.passOrder(state.pass, frames: passFrames).enumerated() where n >= state.done {
                func read(_ p: String) throws -> RGBImage { try ImageFile.read(p) }
                let content = try read(Self.contentPath(frameDir, i))
                let r = try video.passRequest(base: try request(content), content: content, neighbourContent: try read(Self.contentPath(frameDir, m)),
                                              neighbour: try read(Self.framePath(frameDir, m)), own: try read(Self.framePath(frameDir, i)),
                                              iterations: passIterations ?? max(1, plan.frameIterations / 2))
                guard try run(r, frame: i, label: "pass \(state.pass) of \(passes), frame \(i + 1)") else {
                    return Outcome(frames: passFrames, interrupted: true, losses: losses)
                }
                state.done = n + 1
                try state.save(frameDir)
            }
            (state.pass, state.done) = (state.pass + 1, 0)
            try state.save(frameDir)
        }
        if passes > 1 { WorkFolder.removeContent(frameDir) }
        progress.message(String(format: "video: %d frames in %@ (%.1f s)", index, frameDir, Date().timeIntervalSince(start)))
        if let output {
            let rate = frameRate ?? plan.source.frameRate ?? "24"
            try FFmpeg.encode(frames: URL(fileURLWithPath: frameDir).appendingPathComponent("frame_%06d.png").path, frameRate: rate,
                              audio: input, to: output)
            progress.message("video: wrote \(output)")
            if outputDir == nil { WorkFolder.remove(frameDir) }
        }
        return Outcome(frames: index, interrupted: false, losses: losses)
    }

    static func framePath(_ dir: String, _ index: Int) -> String {
        URL(fileURLWithPath: dir).appendingPathComponent(String(format: "frame_%06d.png", index + 1)).path
    }

    /// The later passes' content frames (at the output size), kept in a hidden folder until the last pass is done.
    static func contentPath(_ dir: String, _ index: Int) -> String {
        URL(fileURLWithPath: dir).appendingPathComponent(String(format: ".content/frame_%06d.png", index + 1)).path
    }

    static func checkpointPath(_ dir: String, _ index: Int) -> String {
        URL(fileURLWithPath: dir).appendingPathComponent(String(format: ".frame_%06d.checkpoint", index + 1)).path
    }

    /// --flow-dir's pair (current I, earlier J, numbered from 1), when both files are there.
    var userFlows: TemporalGuide.FlowProvider? {
        guard let flowDir else { return nil }
        return { current, earlier in
            let dir = URL(fileURLWithPath: flowDir)
            let b = dir.appendingPathComponent("backward_\(current + 1)_\(earlier + 1).flo").path
            let f = dir.appendingPathComponent("forward_\(earlier + 1)_\(current + 1).flo").path
            guard FileManager.default.fileExists(atPath: b), FileManager.default.fileExists(atPath: f) else { return nil }
            return (try FlowField.read(flo: b), try FlowField.read(flo: f))
        }
    }

    /// The key of this video's frames: stylize's key without the content, the video options,
    /// and the frames' source (a folder's frame names, sizes and times; a file's size, time and
    /// first MiB). Finished frames of another key are done again.
    func videoKey(_ template: Stylize, weightsHash: String? = nil) throws -> String {
        var h = SHA256()
        func add(_ text: String) { h.update(Data((text + "\n").utf8)) }
        add(try template.runKey(arguments: stylizeOptions, weightsHash: weightsHash, includeContent: false))
        add("video \(temporalWeight) \(try temporalDistances()) \(firstFrameIterations ?? -1) \(frameIterations ?? -1) \(frameLr ?? -1) \(passes) \(passIterations ?? -1) \(passes > 1 ? frameCount ?? -1 : -1) \(flowOptions.settings)")
        add("flow-dir \(flowDir ?? "-")")
        func stamp(_ path: String) {
            let a = try? FileManager.default.attributesOfItem(atPath: path)
            add("\(URL(fileURLWithPath: path).lastPathComponent) \((a?[.size] as? Int) ?? -1) \(((a?[.modificationDate] as? Date)?.timeIntervalSince1970) ?? 0)")
        }
        if let frames { try DirectoryFrames(frames, maxPixels: Int.max).files.forEach(stamp) }
        if let input {
            stamp(input)
            if let head = try? InputFile.Reader(input).read(at: 0, count: 1 << 20) { h.update(head) }
        }
        return h.finalize()
    }
}

/// What a video's output folder says about its run: the key, how many frames are finished,
/// the first frame's balanced loss weights. Written atomically after each frame.
struct VideoState: Codable {
    var key: String
    /// The pass under way (from 1; past the last when all are done) and its frames finished.
    var pass = 1
    var done = 0
    /// The video's frames, known once the first pass is done.
    var frames: Int?
    var weights: [Float]?

    static let fileName = ".impasto-video.json"
    static func file(_ dir: String) -> URL { URL(fileURLWithPath: dir).appendingPathComponent(fileName) }

    /// The folder's state if it has this key, else a fresh one.
    static func load(_ dir: String, key: String) -> VideoState {
        if let data = try? InputFile.read(file(dir).path, maxBytes: 1 << 20), let s = try? JSONDecoder().decode(VideoState.self, from: data), s.key == key { return s }
        return VideoState(key: key)
    }

    func save(_ dir: String) throws {
        do { try JSONEncoder().encode(self).write(to: Self.file(dir), options: .atomic) } catch {
            throw FileError("cannot write \(Self.file(dir).path): \(ErrorText.describe(error))")
        }
    }
}

/// A video's frame folder. --output-dir is the user's (made when missing, never emptied);
/// the work folder beside --output is the run's own: made with a mark file, adopted by a rerun
/// only when it has that mark (never a folder or link someone else made), and removed file by
/// file, only the names a video writes, never recursively.
enum WorkFolder {
    static let markName = ".impasto-work"

    /// Makes `dir` (and missing folders above it) if it is missing; true when it was made.
    static func makeIfMissing(_ dir: String, option: String) throws -> Bool {
        var st = stat()
        if lstat(dir, &st) == 0 { return false }
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw FileError("\(option) \(InputFile.display(dir)): cannot make the folder (\(ErrorText.describe(error)))")
        }
        return true
    }

    /// The work folder: made with its mark, or an earlier run's (with the mark) taken over.
    static func adopt(_ dir: String, option: String) throws -> Bool {
        let mark = URL(fileURLWithPath: dir).appendingPathComponent(markName).path
        var st = stat()
        if lstat(dir, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFDIR, lstat(mark, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
                throw FileError("\(option) \(InputFile.display(dir)) exists and is not a work folder impasto made; move it away, or give --output-dir")
            }
            return false
        }
        _ = try makeIfMissing(dir, option: option)
        let fd = open(mark, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError("\(option) \(InputFile.display(mark)): \(InputFile.reason(errno))") }
        close(fd)
        return true
    }

    /// The later passes' content folder, emptied of frames and removed if nothing else is in it.
    static func removeContent(_ dir: String) {
        let content = URL(fileURLWithPath: dir).appendingPathComponent(".content").path
        for name in (try? FileManager.default.contentsOfDirectory(atPath: content)) ?? [] where Video.isFrameName(name) {
            unlink(URL(fileURLWithPath: content).appendingPathComponent(name).path)
        }
        rmdir(content)
    }

    /// Removes what a video wrote in `dir`, then `dir` if that leaves it empty.
    static func remove(_ dir: String) {
        var st = stat()
        guard lstat(dir, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { return }
        removeContent(dir)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where Video.writes(name) && name != ".content" {
            unlink(URL(fileURLWithPath: dir).appendingPathComponent(name).path)
        }
        rmdir(dir)
    }
}
