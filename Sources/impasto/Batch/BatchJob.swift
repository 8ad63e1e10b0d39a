import ArgumentParser
import Foundation
import Impasto

/// One job of a batch: where it came from, its `stylize` arguments and their parse, and its
/// key: SHA-256 over the input files' bytes, the options that shape the picture (canonical:
/// sorted by name, paths and display options left out), the impasto version and the weights'
/// hash. The same key means the same picture (on the same device), so a finished job whose
/// marker (`OUTPUT.done.json`) holds its key is not run again.
struct BatchJob {
    /// Its manifest line (1 on), or its picture's name with --content-dir.
    let origin: String
    let arguments: [String]
    let command: Stylize
    var output: String { command.output }
    var marker: String { command.output + ".done.json" }

    /// Options that say where files are or how the run reports, not what it paints.
    static let notInKey: Set<String> = ["content", "style", "init", "mask", "output", "weights", "log", "progress-image",
                                        "save-every", "quiet", "max-pixels", "device"]

    /// The key, with `weightsHash` for the job's --weights (see `Batch.weightsHash`).
    func key(weightsHash: String) throws -> String {
        var h = SHA256()
        func add(_ text: String) { h.update(Data((text + "\n").utf8)) }
        add("impasto \(ImpastoVersion.current)")
        var files: [(String, String)] = []
        if let c = command.content { files.append(("content", c)) }
        files += command.style.map { ("style", $0) }
        if case .file(let p) = command.initImage { files.append(("init", p)) }
        if let m = command.mask { files.append(("mask", m)) }
        for (role, path) in files {
            let data = try InputFile.read(path, maxBytes: 1 << 31)
            add("\(role) \(data.count)")
            h.update(data)
        }
        var options = try BatchManifest.group(arguments).filter { !Self.notInKey.contains($0.name) }
        options.sort { $0.name < $1.name }  // stable: repeated options keep their order
        for o in options { add("--\(o.name) " + (o.values ?? []).joined(separator: " ")) }
        if case .file = command.initImage {} else { add("--init \(command.initImage)") }
        add("weights \(weightsHash)")
        return h.finalize()
    }

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
