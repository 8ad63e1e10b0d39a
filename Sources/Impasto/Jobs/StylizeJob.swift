import Foundation

/// How a job's messages name its fields: the library's own names by default; the
/// command-line tool names them by its options (`styles` → `--style`).
public struct FieldNames: Sendable {
    public let name: @Sendable (String) -> String
    public init(_ name: @escaping @Sendable (String) -> String) { self.name = name }
    public func callAsFunction(_ field: String) -> String { name(field) }
    /// The fields' own names.
    public static let fields = FieldNames { $0 }
}

/// What a picture job writes: the picture, and on request a JSON log, a progress sheet,
/// numbered snapshots and a checkpoint to resume from.
public struct PictureOutput: Hashable, Codable, Sendable {
    /// The picture (.png, .jpg or .jpeg), written atomically.
    public var path: String
    /// JPEG quality, 1…100.
    public var quality = 95
    /// Bits per channel of the picture and its snapshots: 8, or 16 for a PNG.
    public var depth = 8
    /// Also write the picture every N iterations as PATH-NNNN.EXT (`numberedPath`).
    public var saveEvery: Int?
    /// Snapshots side by side with the loss curves under them, rewritten five times a run.
    public var progressImage: String?
    /// One JSON line per iteration (`LogObserver`).
    public var log: String?
    /// The run's state when it is stopped or every `checkpointEvery` iterations (default
    /// PATH.checkpoint when `checkpointEvery` is set); a run with the same key resumes from it.
    public var checkpoint: String?
    public var checkpointEvery: Int?

    public init(path: String) { self.path = path }

    public var checkpointPath: String? { checkpoint ?? checkpointEvery.map { _ in path + ".checkpoint" } }

    public func validate() throws {
        if let saveEvery, saveEvery < 1 { throw SettingError("saveEvery", "must be at least 1") }
        if let checkpointEvery, checkpointEvery < 1 { throw SettingError("checkpointEvery", "must be at least 1") }
        guard (1...100).contains(quality) else { throw SettingError("quality", "must be between 1 and 100") }
        let format: ImageFile.Format
        do { format = try ImageFile.format(of: path) } catch { throw SettingError("output", ErrorText.describe(error)) }
        guard ImageFile.depths.contains(depth) else { throw SettingError("depth", "must be 8 or 16 bits per channel, not \(depth)") }
        if depth == 16 && format != .png { throw SettingError("depth", "16 needs a .png output (JPEG has 8 bits per channel)") }
        if let progressImage {
            do { _ = try ImageFile.format(of: progressImage) } catch { throw SettingError("progressImage", ErrorText.describe(error)) }
        }
    }

    /// "out.png", 100 → "out-0100.png".
    public static func numberedPath(_ path: String, _ i: Int) -> String {
        let url = URL(fileURLWithPath: path)
        let stem = url.deletingPathExtension().lastPathComponent
        return url.deletingLastPathComponent().appendingPathComponent(String(format: "%@-%04d.%@", stem, i, url.pathExtension)).path
    }
}

/// One picture to stylize: its input files, its settings, its weights and its outputs. Its
/// `key` (the resolved settings, the inputs' bytes, the weights and impasto's version) means
/// the same picture on the same device: it tags checkpoints and a batch's done markers. Runs
/// on a `Stylization`, warm or fresh (`perform`), or on its own (`run`).
public struct StylizeJob: Sendable {
    /// The photo whose layout is kept; nil only for the demo (`settings.demo`), which paints
    /// its own sample pictures.
    public var content: String?
    public var styles: [String]
    /// The starting picture when `settings.start` is `.picture`.
    public var initPicture: String?
    /// White where the style applies, black where the content stays (any size).
    public var mask: String?
    /// A style per region: per style, the mask of its own region (nil: a default style,
    /// painted where no mask is white; see `StylizeRequest.styleMasks`).
    public var styleMasks: [String?]?
    public var settings: StylizeSettings
    public var weights: WeightsSpec
    public var output: PictureOutput
    /// Input pictures with more pixels are refused before they are decoded.
    public var maxPixels = ImageFile.defaultMaxPixels

    public init(content: String?, styles: [String], settings: StylizeSettings = StylizeSettings(), weights: WeightsSpec = .official,
                output: PictureOutput) {
        (self.content, self.styles, self.settings, self.weights, self.output) = (content, styles, settings, weights, output)
    }

    /// Every check before work that reads no file: settings, outputs, the inputs' presence.
    public func validate() throws {
        if settings.demo && (content != nil || !styles.isEmpty) {
            throw SettingError("demo", "paints its own pictures: leave out the content and style pictures")
        }
        if !settings.demo && content == nil { throw SettingError("content", "is needed (or the demo's own pictures)") }
        if !settings.demo && styles.isEmpty { throw SettingError("styles", "needs at least one style picture (or the demo's own pictures)") }
        if settings.start == .picture && initPicture == nil { throw SettingError("initPicture", "is needed to start from a picture") }
        guard maxPixels > 0 else { throw SettingError("maxPixels", "must be positive") }
        try settings.validate(styleCount: settings.demo ? 1 : styles.count)
        try output.validate()
        // The run's own checks, on a request with stand-in pictures.
        let stand = RGBImage(width: 1, height: 1, pixels: [0, 0, 0])
        var probe = settings
        if probe.maxSize != nil { (probe.maxSize, probe.size) = (nil, StylizeSettings.Size(width: settings.maxSize!, height: settings.maxSize!)) }
        try probe.request(content: stand, styles: Array(repeating: stand, count: settings.demo ? 1 : styles.count), initPicture: stand,
                          mask: mask.map { _ in stand }, styleMasks: styleMasks?.map { $0.map { _ in stand } },
                          randomWeights: weights.isRandom).validate()
    }

    /// The files the job reads, with the field naming each.
    public func inputFiles() -> [(path: String, field: String)] {
        var files: [(String, String)] = []
        if let content { files.append((content, "content")) }
        if let initPicture, settings.start == .picture { files.append((initPicture, "initPicture")) }
        if let mask { files.append((mask, "mask")) }
        files += styles.map { ($0, "styles") }
        files += (styleMasks ?? []).compactMap { $0.map { ($0, "styleMasks") } }
        if let file = weights.file { files.append((file, "weights")) }
        return files
    }

    /// Every file the job will write, checked against every input (by identity) before any
    /// work: no output overwrites an input, no two outputs coincide (by canonical path and
    /// identity). `base` holds what a caller guards besides (a batch: every line's inputs and
    /// outputs); `label` starts each message (a batch line's origin).
    public func guardFiles(_ base: OutputGuard = OutputGuard(), label: String = "", names: FieldNames = .fields) throws -> OutputGuard {
        var outputs = base
        for (path, field) in inputFiles() { try outputs.protect(path, as: label + names(field)) }
        func claim(_ path: String, _ field: String, log: Bool = false) throws {
            if log { try outputs.checkLog(path, option: label + names(field)) } else { try outputs.checkReplaceable(path, option: label + names(field)) }
            try outputs.claim(path, as: label + names(field))
        }
        try claim(output.path, "output")
        if let saveEvery = output.saveEvery, saveEvery > 0 {
            // Every snapshot name there is (OUTPUT-NNNN.EXT), not only the first.
            let url = URL(fileURLWithPath: output.path), stem = url.deletingPathExtension().lastPathComponent, ext = url.pathExtension
            try outputs.checkFolder(url.deletingLastPathComponent().path, option: label + names("saveEvery")) { name in
                name.hasPrefix(stem + "-") && name.hasSuffix("." + ext)
                    && name.dropFirst(stem.count + 1).dropLast(ext.count + 1).allSatisfy(\.isNumber)
            }
            try claim(PictureOutput.numberedPath(output.path, saveEvery), "saveEvery")
        }
        if let path = output.checkpointPath { try claim(path, "checkpoint") }
        if let progressImage = output.progressImage { try claim(progressImage, "progressImage") }
        if let log = output.log { try claim(log, "log", log: true) }
        return outputs
    }

    /// The job's key: SHA-256 over impasto's version, the input files' bytes, the resolved
    /// settings (`StylizeSettings.resolved`: defaults spelled out) and the weights' key
    /// component. Paths and what only reports (log, progress sheet, snapshots) are not in it.
    /// `includeContent` false: the content file is left out (a video's frames are keyed by it).
    public func key(weightsKey: String? = nil, includeContent: Bool = true) throws -> String {
        var h = SHA256()
        func add(_ text: String) { h.update(Data((text + "\n").utf8)) }
        add("impasto \(ImpastoVersion.current) job 2")
        var files: [(String, String)] = []
        if let c = content, includeContent { files.append(("content", c)) }
        files += styles.map { ("style", $0) }
        if let p = initPicture, settings.start == .picture { files.append(("init", p)) }
        if let m = mask { files.append(("mask", m)) }
        for (i, m) in (styleMasks ?? []).enumerated() {
            if let m { files.append(("style mask \(i)", m)) } else { add("style mask \(i) none") }
        }
        for (role, path) in files {
            let data = try InputFile.read(path, maxBytes: 1 << 31)
            add("\(role) \(data.count)")
            h.update(data)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        h.update(try encoder.encode(try settings.resolved()))
        add("")
        add("weights \(try weightsKey ?? weights.keyComponent())")
        return h.finalize()
    }

    /// The inputs read and checked, the request these settings give with them.
    public func prepare(randomWeights: Bool) throws -> StylizeRequest {
        func read(_ path: String) throws -> RGBImage { try ImageFile.read(path, maxPixels: maxPixels) }
        let contentImage = try content.map(read) ?? SampleImages.landscape()
        let styleImages = settings.demo ? [SampleImages.swirls()] : try styles.map(read)
        let initImage = settings.start == .picture ? try initPicture.map(read) : nil
        return try settings.request(content: contentImage, styles: styleImages, initPicture: initImage, mask: try mask.map(read),
                                    styleMasks: try styleMasks?.map { try $0.map(read) }, randomWeights: randomWeights)
    }

    /// A checkpoint file with the run's key: resumed from when it is there, kept up to date,
    /// removed when the run is done.
    public struct Checkpointing: Sendable {
        public var path: String
        public var key: String
        public var every: Int?
        public init(path: String, key: String, every: Int?) { (self.path, self.key, self.every) = (path, key, every) }
    }

    /// `request` (from `prepare`) run on `run`'s device and weights with the file observers
    /// the output asks for (log, progress sheet, snapshots) and the caller's, then the picture
    /// written (unless the run was stopped and `writeInterrupted` is false: a batch's rerun
    /// does the job from its checkpoint). `outputs` is the guard `guardFiles` returned.
    public func perform(_ request: StylizeRequest, on run: Stylization, outputs: OutputGuard, checkpoint: Checkpointing?,
                        writeInterrupted: Bool = true, observers extra: [StylizeObserver] = [],
                        shouldStop: () -> Bool = { false }, names: FieldNames = .fields) throws -> StylizeResult {
        PendingFile.removeStale(besides: [output.path] + (output.progressImage.map { [$0] } ?? []))
        let (w, h) = request.outputSize
        let total = request.totalIterations
        var observers = extra
        if let log = output.log {  // after the inputs: no empty log when one is bad
            observers.append(LogObserver(try outputs.openLog(log, option: names("log")), multiScale: request.sizes.count > 1))
        }
        if let progressImage = output.progressImage {
            observers.append(SheetObserver(path: progressImage, width: w, height: h, total: total, quality: output.quality))
        }
        if let saveEvery = output.saveEvery {
            observers.append(SaveEveryObserver(output: output.path, every: saveEvery, total: total, quality: output.quality, depth: output.depth,
                                               outputs: outputs, field: names("saveEvery")))
        }
        var policy: StylizeCheckpoint.Policy?
        if let checkpoint {
            let url = URL(fileURLWithPath: checkpoint.path)
            let resume = FileManager.default.fileExists(atPath: checkpoint.path) ? try StylizeCheckpoint.read(from: url) : nil
            policy = StylizeCheckpoint.Policy(tag: checkpoint.key, every: checkpoint.every, resume: resume) { try $0.write(to: url) }
        }
        let result = try run.run(request, observers: observers, shouldStop: shouldStop, checkpoints: policy)
        if let l = result.losses, !l.total.isFinite {  // a black picture reported as done would be a lie
            throw StyleTransferError("the run diverged: its loss is not a finite number (\(l.total)); nothing written")
        }
        if !result.interrupted || writeInterrupted { try ImageFile.write(result.picture, to: output.path, quality: output.quality, depth: output.depth) }
        if !result.interrupted, let checkpoint { try? FileManager.default.removeItem(atPath: checkpoint.path) }
        return result
    }

    /// Where `perform` keeps the checkpoint of this job's run, tagged with its key, if the
    /// output asks for one.
    /// The key is computed (the inputs read) only when there is a checkpoint.
    public func checkpointing() throws -> Checkpointing? {
        try output.checkpointPath.map { Checkpointing(path: $0, key: try key(), every: output.checkpointEvery) }
    }
}

/// `PictureOutput.log`: one JSON line per iteration:
/// `{"iter","content","style","tv","total","lr","elapsed"}` (and `"scale"` with several).
public final class LogObserver: StylizeObserver {
    let file: LogFile
    let multiScale: Bool
    public init(_ file: LogFile, multiScale: Bool) { self.file = file; self.multiScale = multiScale }

    public func observe(_ event: StylizeEvent) throws {
        guard case .iteration(let it) = event else { return }
        let t = it.losses
        let scaleField = multiScale ? String(format: ",\"scale\":\"%dx%d\"", it.width, it.height) : ""
        try file.write(String(format: "{\"iter\":%d,\"content\":%.9g,\"style\":%.9g,\"tv\":%.9g,\"total\":%.9g,\"lr\":%.9g,\"elapsed\":%.6f%@}\n",
                              it.index, t.content, t.style, t.tv, t.total, it.rate, it.elapsed, scaleField))
    }
}

/// `PictureOutput.progressImage`: snapshots side by side with the loss curves, rewritten
/// five times a run.
public final class SheetObserver: StylizeObserver {
    var sheet: ProgressSheet
    let path: String, quality: Int, total: Int
    var every: Int { max(1, total / 5) }
    public init(path: String, width: Int, height: Int, total: Int, quality: Int) {
        sheet = ProgressSheet(outputWidth: width, outputHeight: height)
        (self.path, self.total, self.quality) = (path, total, quality)
    }

    public func observe(_ event: StylizeEvent) throws {
        switch event {
        case .started(let s): sheet.snapshot(try s.picture(), iteration: 0)
        case .iteration(let it):
            let done = it.index + 1
            sheet.record(it.losses)
            if done % every == 0 || done == total {
                sheet.snapshot(try it.snapshot.picture(), iteration: done)
                try ImageFile.write(sheet.render(), to: path, quality: quality)
            }
        default: break
        }
    }
}

/// `PictureOutput.saveEvery`: the picture every N iterations as OUTPUT-NNNN (the last is the
/// output itself).
public final class SaveEveryObserver: StylizeObserver {
    let output: String, every: Int, total: Int, quality: Int, depth: Int, field: String
    let outputs: OutputGuard
    public init(output: String, every: Int, total: Int, quality: Int, depth: Int = 8, outputs: OutputGuard, field: String = "saveEvery") {
        (self.output, self.every, self.total, self.quality, self.depth, self.outputs, self.field) = (output, every, total, quality, depth, outputs, field)
    }

    public func observe(_ event: StylizeEvent) throws {
        guard case .iteration(let it) = event else { return }
        let done = it.index + 1
        guard done % every == 0, done < total else { return }
        let path = PictureOutput.numberedPath(output, done)
        try outputs.checkReplaceable(path, option: field)
        try ImageFile.write(try it.snapshot.picture(), to: path, quality: quality, depth: depth)
    }
}
