import Foundation

/// How a video's frames are stylized beyond the picture settings (Ruder et al. 2016).
public struct VideoSettings: Hashable, Codable, Sendable {
    /// The temporal loss, its earlier frames and the optical flow.
    public var temporal = TemporalSettings()
    /// Iterations of the first frame (default: the picture settings' schedule).
    public var firstFrameIterations: Int?
    /// Iterations of each later frame at the output size (default: half the first frame's last scale).
    public var frameIterations: Int?
    /// Learning rate of the frames after the first (default: a tenth of Adam's, L-BFGS's own).
    public var frameLr: Double?
    /// Passes over the video (Ruder's multi-pass); iterations of each frame in the later ones
    /// (default: half `frameIterations`).
    public var passes = 1
    public var passIterations: Int?
    /// Frames at most.
    public var frameCount: Int?
    /// Also checkpoint the frame under way every N iterations (it is always checkpointed
    /// when stopped).
    public var checkpointEvery: Int?

    public init() {}

    public func validate() throws {
        let t = temporal
        guard t.weight.isFinite, t.weight >= 0 else { throw SettingError("temporalWeight", "must be a finite number, 0 or more") }
        guard t.frames.allSatisfy({ (1...1000).contains($0) }) else {
            throw SettingError("temporalFrames", "must be whole numbers from 1 to 1000")
        }
        guard t.frames.contains(1), Set(t.frames).count == t.frames.count else {
            throw SettingError("temporalFrames", "must include 1 and name each distance once")
        }
        for (name, v) in [("firstFrameIterations", firstFrameIterations), ("frameIterations", frameIterations)] {
            if let v, !(0...StylizeRequest.maxIterations).contains(v) { throw SettingError(name, "must be between 0 and \(StylizeRequest.maxIterations)") }
        }
        if let frameLr, !(frameLr.isFinite && frameLr > 0) { throw SettingError("frameLr", "must be a positive number") }
        guard (1...50).contains(passes) else { throw SettingError("passes", "must be between 1 and 50") }
        if let passIterations, !(1...StylizeRequest.maxIterations).contains(passIterations) {
            throw SettingError("passIterations", "must be between 1 and \(StylizeRequest.maxIterations)")
        }
        if let frameCount, frameCount < 1 { throw SettingError("frameCount", "must be at least 1") }
        if let checkpointEvery, checkpointEvery < 1 { throw SettingError("checkpointEvery", "must be at least 1") }
        let f = t.flow
        guard f.alpha.isFinite, (0.001...10000).contains(f.alpha) else { throw SettingError("flowAlpha", "must be between 0.001 and 10000") }
    }

    /// "24", "29.97" or "30000/1001", as ffmpeg takes it.
    public static func checkedRate(_ text: String) throws -> String {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { Double($0) }
        guard (1...2).contains(parts.count), parts.allSatisfy({ $0 != nil && $0! > 0 && $0! <= 1e9 && $0!.isFinite }) else {
            throw SettingError("frameRate", "'\(text)' is not a positive number or a fraction such as 30000/1001")
        }
        let rate = parts.count == 2 ? parts[0]! / parts[1]! : parts[0]!
        guard (0.01...1000).contains(rate) else { throw SettingError("frameRate", "\(text) is outside 0.01 to 1000 frames per second") }
        return text
    }
}

/// One video to stylize: frames from a folder or a video file, results to a folder of frames
/// and/or a video file (encoded by ffmpeg), every frame painted by `picture`'s settings,
/// weights and style pictures (its content and output are the frames'). Resumable at the
/// frame; its key covers the frames' source, so finished frames of another run are redone.
public struct VideoJob: Sendable {
    public enum Source: Sendable, Hashable {
        /// Numbered pictures (PNG or JPEG) in a folder, in the order of the number in their names.
        case frames(String)
        /// A video file ffmpeg reads.
        case file(String)
    }

    public var source: Source
    /// Where the stylized frames go (frame_000001.png, ...); without it, a work folder of the
    /// run's own beside `output`, removed after encoding.
    public var outputDir: String?
    /// A video file to encode the frames into (.mp4, .m4v, .mov, .mkv, .webm, .avi, .gif).
    public var output: String?
    /// Frames per second of `output` (default: the input video's, else 24).
    public var frameRate: String?
    /// A folder of the user's flows: backward_I_J.flo and forward_J_I.flo (numbered from 1).
    public var flowDir: String?
    public var settings: VideoSettings
    /// The styles, settings, weights, mask and start of every frame.
    public var picture: StylizeJob

    public init(source: Source, outputDir: String?, output: String?, settings: VideoSettings = VideoSettings(), picture: StylizeJob) {
        (self.source, self.outputDir, self.output, self.settings, self.picture) = (source, outputDir, output, settings, picture)
    }

    /// Where the frames go: `outputDir`, or the work folder beside `output`.
    public var frameDir: String { outputDir ?? ((output ?? "video") + ".frames") }
    /// What a batch checks, marks done and reports.
    public var result: String { outputDir ?? output ?? frameDir }
    /// The field that names the frame folder, for messages.
    var frameDirField: String { outputDir != nil ? "outputDir" : "outputWorkFolder" }

    /// Every check before work that needs no device (nor a frame).
    public func validate() throws {
        guard outputDir != nil || output != nil else { throw SettingError("outputDir", "or a video output file is needed") }
        try settings.validate()
        if let frameRate { _ = try VideoSettings.checkedRate(frameRate) }
        if let output { try FFmpeg.checkOutput(output) }  // a container ffmpeg would refuse only after every frame
        if let flowDir {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: flowDir, isDirectory: &isDir), isDir.boolValue else {
                throw SettingError("flowDir", "\(flowDir): no such folder")
            }
        }
        var frame = try stillPicture()
        (frame.content, frame.output) = ("frame.png", PictureOutput(path: "/frame.png"))
        try frame.validate()
    }

    /// `--style-mask` folders: per style whose mask is a folder, its pictures in name order,
    /// one per frame (frame k takes the kth).
    func maskFolders() throws -> [Int: [String]] {
        var folders: [Int: [String]] = [:]
        for (i, path) in (picture.styleMasks ?? []).enumerated() {
            guard let path else { continue }
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { continue }
            let dir = URL(fileURLWithPath: path)
            folders[i] = try ImageFile.pictureNames(in: path, field: "styleMasks").map { dir.appendingPathComponent($0).path }
        }
        return folders
    }

    /// The picture job with each mask folder's first picture in its place: what every frame's
    /// settings, checks and key share (the folders' files are keyed and guarded beside it).
    func stillPicture() throws -> StylizeJob {
        var still = picture
        for (i, files) in try maskFolders() { still.styleMasks![i] = files[0] }
        return still
    }

    /// The frame's stand-in content file: the first frame's, or the video (both guarded as inputs).
    func standIn() throws -> String {
        switch source {
        case .frames(let dir): return try DirectoryFrames(dir, maxPixels: Int.max).files[0]
        case .file(let path): return path
        }
    }

    /// Every file the video reads: each frame (or the video file) and the picture settings' files.
    public func inputFiles() throws -> [(path: String, field: String)] {
        var files = try stillPicture().inputFiles().filter { $0.field != "content" }
        files += try maskFolders().sorted { $0.key < $1.key }.flatMap { $0.value.map { ($0, "styleMasks") } }
        switch source {
        case .frames(let dir): files += try DirectoryFrames(dir, maxPixels: Int.max).files.map { ($0, "frames") }
        case .file(let path): files.append((path, "input"))
        }
        return files
    }

    /// The video's outputs checked against `base` and every input (each frame's name, and
    /// everything already in the frame folder that the run may write), and claimed in it.
    public func guardFiles(_ base: OutputGuard = OutputGuard(), label: String = "", names: FieldNames = .fields) throws -> OutputGuard {
        var outputs = base
        for (path, field) in try inputFiles() { try outputs.protect(path, as: label + names(field)) }
        if case .frames(let frames) = source, OutputGuard.isInside(frameDir, frames) || OutputGuard.isInside(frames, frameDir) {
            throw FileError("\(label)\(names(frameDirField)) \(InputFile.display(frameDir)) and \(names("frames")) \(InputFile.display(frames)) overlap; the stylized frames need a folder of their own")
        }
        if let output {
            try outputs.checkReplaceable(output, option: label + names("output"))
            try outputs.claim(output, as: label + names("output"))
        }
        var st = stat()
        // An output folder may be a link to a folder; the work folder must be a folder itself.
        if (outputDir != nil ? stat(frameDir, &st) : lstat(frameDir, &st)) == 0 {
            guard st.st_mode & S_IFMT == S_IFDIR else {
                throw FileError("\(label)\(names(frameDirField)) \(InputFile.display(frameDir)) is \(st.st_mode & S_IFMT == S_IFLNK ? "a symbolic link" : InputFile.kind(st.st_mode) ?? "not a folder"), not a folder of its own")
            }
            try outputs.checkFolder(frameDir, option: label + names(frameDirField), writes: DirectoryFrameSink.writes)
            let content = URL(fileURLWithPath: frameDir).appendingPathComponent(DirectoryFrameSink.contentName).path
            if lstat(content, &st) == 0 {
                guard st.st_mode & S_IFMT == S_IFDIR else { throw FileError("\(label)\(InputFile.display(content)) is not a folder") }
                try outputs.checkFolder(content, option: label + names(frameDirField), writes: DirectoryFrameSink.isFrameName)
            }
        }
        try outputs.claim(frameDir, as: label + names(frameDirField))
        return outputs
    }

    /// The key of this video's frames: the picture job's key without the content, the video
    /// settings, and the frames' source (a folder's frame names, sizes and times; a file's
    /// size, time and first MiB).
    public func key(weightsKey: String? = nil) throws -> String {
        var h = SHA256()
        func add(_ text: String) { h.update(Data((text + "\n").utf8)) }
        add(try stillPicture().key(weightsKey: weightsKey, includeContent: false))
        var keyed = settings
        if keyed.passes < 2 { keyed.frameCount = nil }  // one pass: a rerun may go on past the frames done
        keyed.checkpointEvery = nil  // how often it is saved, not what it paints
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        h.update(try encoder.encode(keyed))
        add("")
        add("flow-dir \(flowDir ?? "-")")
        func stamp(_ path: String) {
            let a = try? FileManager.default.attributesOfItem(atPath: path)
            add("\(URL(fileURLWithPath: path).lastPathComponent) \((a?[.size] as? Int) ?? -1) \(((a?[.modificationDate] as? Date)?.timeIntervalSince1970) ?? 0)")
        }
        for (i, files) in try maskFolders().sorted(by: { $0.key < $1.key }) {
            add("style mask folder \(i)")
            files.forEach(stamp)
        }
        switch source {
        case .frames(let dir): try DirectoryFrames(dir, maxPixels: Int.max).files.forEach(stamp)
        case .file(let path):
            stamp(path)
            if let head = try? InputFile.Reader(path).read(at: 0, count: 1 << 20) { h.update(head) }
        }
        return h.finalize()
    }

    /// What `perform` needs, read and checked before any device work.
    public struct Prepared {
        public let outputs: OutputGuard
        public let source: FrameSource
        public let first: RGBImage
        public let styles: [RGBImage]
        public let initPicture: RGBImage?
        public let mask: RGBImage?
        public let styleMasks: [RGBImage?]?
        /// Per style whose mask is a folder: the frames' mask files (read as each frame starts).
        public let maskFolders: [Int: [String]]
        public let size: StylizeSettings.Size
        public let firstIterations: [Int]
        public let frameIterations: Int
    }

    /// The files checked (inputs read, outputs replaceable, the frame folder made), the source
    /// opened and the first frame read, the schedule fixed.
    public func prepare(names: FieldNames = .fields, shouldStop: () -> Bool = { false }) throws -> Prepared {
        let outputs = try guardFiles(names: names)
        if let output {
            _ = try FFmpeg.tool("ffmpeg")  // now, not after the frames
            try FFmpeg.checkOutput(output)
        }
        let created = outputDir != nil ? try WorkFolder.makeIfMissing(frameDir, option: names(frameDirField))
                                       : try WorkFolder.adopt(frameDir, option: names(frameDirField))
        do {
            let maxPixels = picture.maxPixels
            let frames: FrameSource
            switch source {
            case .frames(let dir): frames = try DirectoryFrames(dir, maxPixels: maxPixels)
            case .file(let path): frames = try FFmpegFrames(path, maxPixels: maxPixels, shouldStop: shouldStop)
            }
            func read(_ path: String) throws -> RGBImage { try ImageFile.read(path, maxPixels: maxPixels) }
            let styles = try picture.styles.map(read)
            let initPicture = picture.settings.start == .picture ? try picture.initPicture.map(read) : nil
            let mask = try picture.mask.map(read)
            let folders = try maskFolders()
            let styleMasks = try picture.styleMasks?.enumerated().map { i, path in folders[i] == nil ? try path.map(read) : nil }
            guard let first = try frames.next() else { throw FileError("the video has no frames") }
            let size = try picture.settings.outputSize(for: first)
            try HostMemory.check(width: size.width, height: size.height, bytesPerPixel: 160, what: "video")
            let scales = try picture.settings.scaleSchedule(output: size).count
            var firstIterations = try picture.settings.iterationSchedule(scales: scales)
            if let n = settings.firstFrameIterations { firstIterations = Array(repeating: n, count: scales) }
            return Prepared(outputs: outputs, source: frames, first: first, styles: styles, initPicture: initPicture, mask: mask, styleMasks: styleMasks, maskFolders: folders, size: size,
                            firstIterations: firstIterations, frameIterations: settings.frameIterations ?? max(1, firstIterations.last! / 2))
        } catch {
            if created { WorkFolder.remove(frameDir) }  // only what impasto made
            throw error
        }
    }

    /// Every frame not finished before, on `stylization`'s device and weights (a batch's warm
    /// one), through the one frame loop into the frame folder, then encoded when an output
    /// file is asked for. A stop leaves the frame's checkpoint and returns `interrupted`.
    public func perform(_ prepared: Prepared, on stylization: Stylization, randomWeights: Bool, key: String,
                        observers: [StylizeObserver] = [], shouldStop: @escaping () -> Bool = { false },
                        events: (VideoStylization.Event) -> Void = { _ in }, names: FieldNames = .fields) throws -> VideoStylization.Outcome {
        let size = prepared.size
        var temporal = settings.temporal
        temporal.frames.sort()
        let video = try VideoStylization(stylization: stylization, width: size.width, height: size.height, settings: temporal,
                                         frameIterations: prepared.frameIterations)
        var schedule = picture.settings
        schedule.scaleIterations = prepared.firstIterations
        schedule.iterations = nil
        let maxPixels = picture.maxPixels
        let base = { (content: RGBImage, frame: Int) throws -> StylizeRequest in
            var masks = prepared.styleMasks
            for (i, files) in prepared.maskFolders {
                guard frame < files.count else {
                    throw FileError("the \(names("styleMasks")) folder \(InputFile.display(URL(fileURLWithPath: files[0]).deletingLastPathComponent().path)) holds \(files.count) masks, none for frame \(frame + 1)")
                }
                masks![i] = try ImageFile.read(files[frame], maxPixels: maxPixels)
            }
            let r = try schedule.request(content: content, styles: prepared.styles, initPicture: prepared.initPicture, mask: prepared.mask,
                                         styleMasks: masks, randomWeights: randomWeights)
            video.frameLearningRate = self.settings.frameLr ?? VideoStylization.defaultFrameLearningRate(for: r)
            return r
        }
        let first = MemoryFrames([prepared.first])
        let frames = ChainedFrames(first, prepared.source)
        let sink = DirectoryFrameSink(frameDir, outputs: prepared.outputs, field: names(frameDirField))
        let plan = VideoStylization.Plan(base: base, key: key, passes: settings.passes,
                                         passIterations: settings.passIterations ?? max(1, prepared.frameIterations / 2),
                                         frameCount: settings.frameCount, checkpointEvery: settings.checkpointEvery, userFlows: userFlows)
        let outcome = try video.run(plan, source: frames, sink: sink, observers: observers, shouldStop: shouldStop, events: events)
        guard !outcome.interrupted else { return outcome }
        if let output {
            let rate = frameRate ?? prepared.source.frameRate ?? "24"
            var audio: String?
            if case .file(let path) = source { audio = path }
            try FFmpeg.encode(frames: URL(fileURLWithPath: frameDir).appendingPathComponent("frame_%06d.png").path, frameRate: rate,
                              audio: audio, to: output, shouldStop: shouldStop)
            if outputDir == nil { WorkFolder.remove(frameDir) }
        }
        return outcome
    }

    /// `flowDir`'s pair (current I, earlier J, numbered from 1), when both files are there.
    var userFlows: UserFlows? {
        guard let flowDir else { return nil }
        return { current, earlier in
            let dir = URL(fileURLWithPath: flowDir)
            let b = dir.appendingPathComponent("backward_\(current + 1)_\(earlier + 1).flo").path
            let f = dir.appendingPathComponent("forward_\(earlier + 1)_\(current + 1).flo").path
            guard FileManager.default.fileExists(atPath: b), FileManager.default.fileExists(atPath: f) else { return nil }
            return (try FlowField.read(flo: b), try FlowField.read(flo: f))
        }
    }
}

/// One source's frames, then another's (the first frame, read early to fix the size, then the rest).
final class ChainedFrames: FrameSource {
    let first: FrameSource, rest: FrameSource
    private var onFirst = true
    init(_ first: FrameSource, _ rest: FrameSource) { (self.first, self.rest) = (first, rest) }
    var frameRate: String? { rest.frameRate }
    func next() throws -> RGBImage? {
        if onFirst, let f = try first.next() { return f }
        onFirst = false
        return try rest.next()
    }
}
