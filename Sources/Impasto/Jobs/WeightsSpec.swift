import Foundation

/// Which VGG19 weights a job runs with: the official file (downloaded once into the cache),
/// random weights from a seed (tests and demos), or a file. The one rule for "random": only
/// `random` and `random:SEED` are random weights; any other text, `random.pth` included, is a
/// file's path.
public enum WeightsSpec: Hashable, Sendable, Codable {
    case official
    case random(seed: UInt64)
    case file(String)

    /// `random`, `random:SEED` or a path (the command line's and a manifest's spelling).
    public init(parsing text: String) throws {
        if text == "random" { self = .random(seed: 0); return }
        if text.hasPrefix("random:") {
            guard let seed = UInt64(text.dropFirst("random:".count)) else {
                throw SettingError("weights", "random:SEED needs a whole number seed, got '\(text.dropFirst("random:".count))'")
            }
            self = .random(seed: seed)
            return
        }
        guard !text.isEmpty else { throw SettingError("weights", "needs a file's path, random or random:SEED") }
        self = .file(text)
    }

    public var isRandom: Bool { if case .random = self { return true } else { return false } }

    /// The file the weights are read from, when they are a file of the caller's.
    public var file: String? { if case .file(let path) = self { return path } else { return nil } }

    /// What a job's key takes of them: a file's SHA-256, random weights' seed, or the official
    /// file's name (its hash is checked on download).
    public func keyComponent() throws -> String {
        switch self {
        case .official: return WeightsDownload.officialURL.lastPathComponent
        case .random(let seed): return "random:\(seed)"
        case .file(let path):
            var h = SHA256()
            try h.update(file: path)
            return h.finalize()
        }
    }

    /// The weights themselves. The official file is downloaded first when it is not cached
    /// (`progress` gets bytes so far and the total).
    public func load(source: WeightsDownload.Source = .fromEnvironment(),
                     progress: ((Int64, Int64?) -> Void)? = nil) throws -> VGGWeights {
        switch self {
        case .official: return try WeightsFile.load(WeightsDownload.cachedWeights(source: source, progress: progress))
        case .random(let seed): return try VGGWeights.random(seed: seed)
        case .file(let path): return try WeightsFile.load(URL(fileURLWithPath: path))
        }
    }
}
