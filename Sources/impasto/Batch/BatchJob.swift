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

    /// What a finished job leaves beside its output.
    struct Marker: Codable {
        let key: String
        let content, style, tv, total: Double
        let iterations: Int
        let seconds: Double
        let device: String
    }

    /// Whether the job's output is there with a marker holding `key`.
    func isDone(key: String) -> Bool {
        guard FileManager.default.fileExists(atPath: output),
              let data = FileManager.default.contents(atPath: marker),
              let m = try? JSONDecoder().decode(Marker.self, from: data) else { return false }
        return m.key == key
    }

    /// Writes the marker atomically (a temporary file renamed into place), after the output.
    func writeMarker(_ m: Marker) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { try encoder.encode(m).write(to: URL(fileURLWithPath: marker), options: .atomic) } catch {
            throw FileError("cannot write \(InputFile.display(marker)): \(error.localizedDescription)")
        }
    }
}
