import Foundation
import Impasto

/// `stylize`: the run's key, which tags its checkpoints and `batch`'s done markers.
extension Stylize {
    /// Options that say where files are or how the run reports, not what it paints.
    static let notInKey: Set<String> = ["content", "style", "init", "mask", "output", "weights", "log", "progress-image",
                                        "save-every", "quiet", "max-pixels", "device", "checkpoint", "checkpoint-every"]

    /// The run's key: SHA-256 over the input files' bytes, the options (`arguments`, as given)
    /// that shape the picture (sorted by name; paths and display options left out), impasto's
    /// version and the weights' hash. The same key means the same picture on the same device:
    /// it tags checkpoints, and `batch`'s markers.
    /// `includeContent` false: the content file is left out (a video's frames are keyed by it).
    func runKey(arguments: [String], weightsHash: String? = nil, includeContent: Bool = true) throws -> String {
        var h = SHA256()
        func add(_ text: String) { h.update(Data((text + "\n").utf8)) }
        add("impasto \(ImpastoVersion.current)")
        var files: [(String, String)] = []
        if let c = content, includeContent { files.append(("content", c)) }
        files += style.map { ("style", $0) }
        if case .file(let p) = initImage { files.append(("init", p)) }
        if let m = mask { files.append(("mask", m)) }
        for (role, path) in files {
            let data = try InputFile.read(path, maxBytes: 1 << 31)
            add("\(role) \(data.count)")
            h.update(data)
        }
        var options = try BatchManifest.group(arguments).filter { !Self.notInKey.contains($0.name) }
        options.sort { $0.name < $1.name }  // stable: repeated options keep their order
        for o in options { add("--\(o.name) " + (o.values ?? []).joined(separator: " ")) }
        if case .file = initImage {} else { add("--init \(initImage)") }
        add("weights \(try weightsHash ?? Self.weightsHash(weights))")
        return h.finalize()
    }

    /// What the key takes of a --weights value: a file's SHA-256, random weights' seed, or the
    /// official file's name (its hash is checked on download).
    static func weightsHash(_ spec: String?) throws -> String {
        guard let spec else { return WeightsDownload.officialURL.lastPathComponent }
        if spec == "random" || spec.hasPrefix("random:") { return spec == "random" ? "random:0" : spec }
        var h = SHA256()
        try h.update(file: spec)
        return h.finalize()
    }
}
