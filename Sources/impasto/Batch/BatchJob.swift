import ArgumentParser
import Foundation
import Impasto

/// One job of a batch: where it came from, its `stylize` arguments and their parse, or a
/// video's (a line with "frames" or "input"). Its key (`Stylize.runKey`, `Video.videoKey`)
/// means the same result on the same device, so a finished job whose marker
/// (`OUTPUT.done.json`) holds its key is not run again.
struct BatchJob {
    /// Its manifest line (1 on), or its picture's name with --content-dir.
    let origin: String
    let arguments: [String]
    /// The picture's command; a video's stylize options (its weights, its files).
    let command: Stylize
    let video: Video?
    var output: String { video?.result ?? command.output }
    var marker: String { output + ".done.json" }

    init(origin: String, arguments: [String], command: Stylize, video: Video? = nil) {
        (self.origin, self.arguments, self.command, self.video) = (origin, arguments, command, video)
    }

    /// Where the job's checkpoint goes when it is stopped (or every --checkpoint-every); a
    /// video's state (its finished frames, the frame it stopped in).
    var checkpoint: String { video.map { VideoState.file($0.frameDir).path } ?? command.checkpoint ?? command.output + ".checkpoint" }

    /// The file that claims the job while a process runs it (see `BatchClaim`).
    var claimFile: String { output + ".lock" }

    /// Every file the job reads, with the option naming it.
    func inputFiles() throws -> [(path: String, option: String)] {
        guard let video else { return command.inputFiles() }
        return try video.inputFiles(command)
    }

    /// The job's outputs checked against `base` (every input and every output of the batch so
    /// far) and claimed in it; messages start with the job's origin.
    func guardOutputs(_ base: OutputGuard) throws -> OutputGuard {
        let label = "\(origin): "
        var outputs = try video.map { try $0.guardFiles(command, base, label: label) } ?? command.guardFiles(base, label: label)
        if video == nil && command.checkpointPath == nil {  // a batch job's default checkpoint
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
    struct Marker: Codable {
        let key: String
        /// The result's SHA-256 when it was done (a picture's or video's bytes, or a frame
        /// folder's frames): a truncated, emptied or replaced result is not done.
        let result: String?
        let content, style, tv, total: Double
        let iterations: Int
        let seconds: Double
        let device: String
    }

    /// The result as it is now: a file's SHA-256, or a frame folder's (names and bytes of its
    /// frames); nil when there is none.
    func resultDigest() -> String? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: output, isDirectory: &isDir) else { return nil }
        var h = SHA256()
        func add(_ path: String) -> Bool {  // false: missing, unreadable or empty
            h.update(Data("\(URL(fileURLWithPath: path).lastPathComponent)\n".utf8))
            return ((try? h.update(file: path)) ?? 0) > 0
        }
        if isDir.boolValue {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: output) else { return nil }
            let frames = names.filter { Video.isFrameName($0) }.sorted()
            guard !frames.isEmpty else { return nil }
            for name in frames where !add(URL(fileURLWithPath: output).appendingPathComponent(name).path) { return nil }
        } else if !add(output) {
            return nil
        }
        return h.finalize()
    }

    /// Whether the job's output is there, unchanged since its marker (holding `key`) was written.
    func isDone(key: String) -> Bool {
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
