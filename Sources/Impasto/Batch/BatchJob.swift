import Foundation

/// One job of a batch: a picture or a video, and where it came from (a manifest line, a
/// picture of a folder). Its key (`StylizeJob.key`, `VideoJob.key`) means the same result on
/// the same device, so a finished job whose marker (`OUTPUT.done.json`) holds its key and
/// its result's digest is not run again.
public struct BatchJob: Sendable {
    public enum Work: Sendable {
        case picture(StylizeJob)
        case video(VideoJob)
    }

    /// Its manifest line ("line 3"), or its picture's name; starts its messages.
    public let origin: String
    public var work: Work

    public init(origin: String, work: Work) { (self.origin, self.work) = (origin, work) }

    /// The picture settings, weights and style pictures the job paints with.
    public var picture: StylizeJob {
        switch work {
        case .picture(let p): return p
        case .video(let v): return v.picture
        }
    }
    var video: VideoJob? { if case .video(let v) = work { return v } else { return nil } }

    /// What it makes: a picture, or a video's frame folder or file.
    public var output: String { video?.result ?? picture.output.path }
    public var marker: String { output + ".done.json" }
    /// Where the job's state goes when it is stopped: a picture's checkpoint, a video's state
    /// (its finished frames, the frame it stopped in).
    public var checkpoint: String { video.map { DirectoryFrameSink.stateFile($0.frameDir).path } ?? picture.output.checkpointPath ?? output + ".checkpoint" }
    /// The file that claims the job while a process runs it (see `BatchClaim`).
    public var claimFile: String { output + ".lock" }

    public func validate() throws {
        switch work {
        case .picture(let p): try p.validate()
        case .video(let v): try v.validate()
        }
    }

    public func inputFiles() throws -> [(path: String, field: String)] {
        try video?.inputFiles() ?? picture.inputFiles()
    }

    public func key(weightsKey: String) throws -> String {
        try video?.key(weightsKey: weightsKey) ?? picture.key(weightsKey: weightsKey)
    }

    /// The job's outputs checked against `base` (every input and every output of the batch so
    /// far) and claimed in it; messages start with the job's origin.
    func guardOutputs(_ base: OutputGuard, names: FieldNames) throws -> OutputGuard {
        let label = "\(origin): "
        var outputs = try video.map { try $0.guardFiles(base, label: label, names: names) } ?? picture.guardFiles(base, label: label, names: names)
        if video == nil && picture.output.checkpointPath == nil {  // a batch job's default checkpoint
            try outputs.checkReplaceable(checkpoint, option: label + "checkpoint")
            try outputs.claim(checkpoint, as: label + "checkpoint")
        }
        for (path, what) in [(marker, "done marker"), (claimFile, "claim file")] {
            try outputs.checkReplaceable(path, option: label + what)
            try outputs.claim(path, as: label + what)
        }
        return outputs
    }

    /// What a finished job leaves beside its output.
    public struct Marker: Codable, Sendable {
        public let key: String
        /// The result's SHA-256 when it was done (a picture's or video's bytes, or a frame
        /// folder's frames): a truncated, emptied or replaced result is not done.
        public let result: String?
        public let content, style, tv, total: Double
        public let iterations: Int
        public let seconds: Double
        public let device: String
    }

    /// The result as it is now: a file's SHA-256, or a frame folder's (names and bytes of its
    /// frames); nil when there is none.
    public func resultDigest() -> String? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: output, isDirectory: &isDir) else { return nil }
        var h = SHA256()
        func add(_ path: String) -> Bool {  // false: missing, unreadable or empty
            h.update(Data("\(URL(fileURLWithPath: path).lastPathComponent)\n".utf8))
            return ((try? h.update(file: path)) ?? 0) > 0
        }
        if isDir.boolValue {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: output) else { return nil }
            let frames = names.filter { DirectoryFrameSink.isFrameName($0) }.sorted()
            guard !frames.isEmpty else { return nil }
            for name in frames where !add(URL(fileURLWithPath: output).appendingPathComponent(name).path) { return nil }
        } else if !add(output) {
            return nil
        }
        return h.finalize()
    }

    /// Whether the job's output is there, unchanged since its marker (holding `key`) was
    /// written. A marker of an earlier version's key (before keys hashed the resolved
    /// settings) does not match: that job runs once more.
    public func isDone(key: String) -> Bool {
        guard let data = try? InputFile.read(marker, maxBytes: 1 << 20),
              let m = try? JSONDecoder().decode(Marker.self, from: data), m.key == key, let result = m.result else { return false }
        return resultDigest() == result
    }

    /// Writes the marker atomically (a temporary file renamed into place), after the output.
    func writeMarker(_ m: Marker) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { try encoder.encode(m).write(to: URL(fileURLWithPath: marker), options: .atomic) } catch {
            throw FileError("cannot write \(InputFile.display(marker)): \(ErrorText.describe(error))")
        }
    }
}
