import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The official VGG19 weights: fetched once into the cache, checked against the SHA-256 prefix
/// in the file name (torchvision's convention: `vgg19-dcbb9e9d.pth`), renamed into place only
/// when whole and correct.
public enum WeightsDownload {
    public static let officialURL = URL(string: "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth")!
    /// The addresses tried in order by default. Any other mirror of the same file can be given
    /// (IMPASTO_WEIGHTS_URL, `impasto weights fetch --mirror`): each download is checked
    /// against the same SHA-256 prefix, the one the official name carries, before it is kept.
    public static let defaultMirrors = [officialURL]

    /// The hash prefix a file name promises ("vgg19-dcbb9e9d.pth" → "dcbb9e9d"), if any.
    static func expectedPrefix(_ fileName: String) -> String? {
        let stem = (fileName as NSString).deletingPathExtension
        guard let dash = stem.lastIndex(of: "-") else { return nil }
        let hex = stem[stem.index(after: dash)...]
        return hex.count >= 6 && hex.allSatisfy(\.isHexDigit) ? hex.lowercased() : nil
    }

    /// The name a download is cached under: the URL's last part (percent-decoded by URL),
    /// reduced to letters, digits, `.`, `_` and `-` with no leading dot, so no URL can name a
    /// path outside the cache (`..%2F..%2Fx`) or a hidden file.
    static func cacheName(for url: URL) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        let kept = String(url.lastPathComponent.filter { allowed.contains($0) }.drop { $0 == "." })
        return kept.isEmpty ? "vgg19-weights.pth" : kept
    }

    /// A download slower than this on average, once `grace` seconds have passed, is given up
    /// (the idle timeout alone lets a server that sends a byte every few seconds hang a run).
    public struct MinimumRate {
        public var bytesPerSecond = 16_384.0
        public var grace: TimeInterval = 30
        public init(bytesPerSecond: Double = 16_384, grace: TimeInterval = 30) { (self.bytesPerSecond, self.grace) = (bytesPerSecond, grace) }
    }

    /// Where the weights come from and are kept: the addresses tried in order (mirrors of one
    /// file; the tests' loopback servers), the SHA-256 the file must have when the first
    /// address's name carries none, and the cache folder. The file is cached under the first
    /// address's name, and every address is held to that name's hash.
    public struct Source: Sendable {
        public var urls: [URL]
        public var sha256: String?
        public var cacheDirectory: URL
        public init(urls: [URL] = WeightsDownload.defaultMirrors, sha256: String? = nil, cacheDirectory: URL) {
            (self.urls, self.sha256, self.cacheDirectory) = (urls.isEmpty ? WeightsDownload.defaultMirrors : urls, sha256, cacheDirectory)
        }

        /// The cached file's path (whether or not it is there yet).
        public var cachedFile: URL { cacheDirectory.appendingPathComponent(cacheName(for: urls[0])) }
        /// The SHA-256 (or its prefix) a file must have to be these weights.
        public var expectedHash: String? { expectedPrefix(cachedFile.lastPathComponent) ?? sha256 }

        /// IMPASTO_WEIGHTS_URL (one address, or several separated by spaces: mirrors tried in
        /// order), IMPASTO_WEIGHTS_SHA256, and the runtime's cache folder.
        public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Source {
            let urls = (env["IMPASTO_WEIGHTS_URL"] ?? "").split(whereSeparator: \.isWhitespace).compactMap { URL(string: String($0)) }
            return Source(urls: urls, sha256: env["IMPASTO_WEIGHTS_SHA256"].flatMap { $0.isEmpty ? nil : $0.lowercased() },
                          cacheDirectory: RuntimeSettings.fromEnvironment(env).cacheDirectory)
        }
    }

    /// The cached file, downloading it first if needed from `source`.
    /// `progress` gets (bytes so far, total or nil). Two runs at once: the second waits for the
    /// first (a lock file), then finds the file.
    public static func cachedWeights(source: Source = .fromEnvironment(),
                                     progress: ((Int64, Int64?) -> Void)? = nil) throws -> URL {
        let cacheDirectory = source.cacheDirectory
        let dest = source.cachedFile
        if FileManager.default.fileExists(atPath: dest.path) { return dest }
        try CacheDirectory.create(cacheDirectory)
        let lockPath = cacheDirectory.appendingPathComponent(".\(dest.lastPathComponent).lock").path
        let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lock >= 0 else { throw WeightsError("cannot create \(InputFile.display(lockPath)): \(InputFile.reason(errno))") }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 && errno == EINTR {}
        if FileManager.default.fileExists(atPath: dest.path) { return dest }  // another run fetched it meanwhile
        // Each address in turn until one gives the right file; every failure is reported.
        var failures: [String] = []
        for url in source.urls {
            do {
                try download(url, to: dest, expectedSHA256: source.sha256, progress: progress)
                return dest
            } catch let e as WeightsError {
                failures.append(e.description)
            }
        }
        if failures.count == 1 { throw WeightsError(failures[0]) }
        throw WeightsError("none of the \(failures.count) addresses gave the weights: " + failures.enumerated().map { "[\($0 + 1)] \($1)" }.joined(separator: "; "))
    }

    /// Puts a file the user downloaded by hand into the cache: checked against the hash the
    /// cache name promises (or IMPASTO_WEIGHTS_SHA256) and for a VGG19 structure, then copied
    /// under a temporary name and renamed. The input is only read.
    public static func importFile(_ path: String, source: Source = .fromEnvironment()) throws -> URL {
        let dest = source.cachedFile
        var h = SHA256()
        try h.update(file: path)
        let digest = h.finalize()
        if let expected = source.expectedHash, !digest.hasPrefix(expected) {
            throw WeightsError("\(InputFile.display(path)) is not \(dest.lastPathComponent): its SHA-256 starts \(digest.prefix(8)), expected \(expected.prefix(8))")
        }
        do { _ = try WeightsFile.load(URL(fileURLWithPath: path)) } catch {
            throw WeightsError("\(InputFile.display(path)) is not VGG19 weights (\(error))")
        }
        try CacheDirectory.create(source.cacheDirectory)
        let part = dest.deletingLastPathComponent().appendingPathComponent(".\(dest.lastPathComponent).\(getpid()).part")
        defer { try? FileManager.default.removeItem(at: part) }
        PendingFile.set(part.path)
        defer { PendingFile.clear() }
        let reader = try InputFile.Reader(path)
        guard FileManager.default.createFile(atPath: part.path, contents: nil), let out = FileHandle(forWritingAtPath: part.path) else {
            throw WeightsError("cannot write \(InputFile.display(part.path))")
        }
        do {
            var offset = 0
            while offset < reader.size {
                let chunk = try reader.read(at: offset, count: min(8 << 20, reader.size - offset))
                try out.write(contentsOf: chunk)
                offset += chunk.count
            }
            try out.close()
        } catch {
            throw WeightsError("cannot copy into \(InputFile.display(part.path)): \(ErrorText.describe(error))")
        }
        guard rename(part.path, dest.path) == 0 else {
            throw WeightsError("cannot move the file into \(InputFile.display(dest.path)): \(InputFile.reason(errno))")
        }
        return dest
    }

    /// What the cache holds: the weights file, whether its bytes have the hash its name (or
    /// IMPASTO_WEIGHTS_SHA256) promises, and its SHA-256.
    public struct Verification: Sendable {
        public let file: URL
        public let sha256: String
        public let matches: Bool
    }

    /// Hashes the cached weights; throws when there are none.
    public static func verify(source: Source = .fromEnvironment()) throws -> Verification {
        let file = source.cachedFile
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw WeightsError("no weights in the cache: \(InputFile.display(file.path)) is not there (impasto weights fetch)")
        }
        var h = SHA256()
        try h.update(file: file.path)
        let digest = h.finalize()
        return Verification(file: file, sha256: digest, matches: source.expectedHash.map { digest.hasPrefix($0) } ?? true)
    }

    static func download(_ url: URL, to dest: URL, expectedSHA256: String?, minimumRate: MinimumRate = MinimumRate(),
                         progress: ((Int64, Int64?) -> Void)?) throws {
        // A name of this process's own: nobody else writes or renames it.
        let part = dest.deletingLastPathComponent().appendingPathComponent(".\(dest.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).part")
        guard FileManager.default.createFile(atPath: part.path, contents: nil), let out = FileHandle(forWritingAtPath: part.path) else {
            throw WeightsError("cannot write \(InputFile.display(part.path))")
        }
        defer { try? FileManager.default.removeItem(at: part) }
        PendingFile.set(part.path)
        defer { PendingFile.clear() }
        let sink = DownloadSink(out: out, progress: progress, minimumRate: minimumRate.bytesPerSecond, grace: minimumRate.grace)
        let session = URLSession(configuration: .ephemeral, delegate: sink, delegateQueue: nil)
        session.dataTask(with: URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 60)).resume()
        sink.done.wait()
        session.finishTasksAndInvalidate()
        try? out.close()
        let howToPlace = "place \(dest.lastPathComponent) in \(dest.deletingLastPathComponent().path) by hand, or pass --weights PATH (or --weights random for a demo)"
        if let failure = sink.failure {
            throw WeightsError("cannot download \(url.absoluteString) (\(failure)); \(howToPlace)")
        }
        // Never an unverified file under the final name: the hash its name promises, else the
        // one IMPASTO_WEIGHTS_SHA256 gives, else at least the structure of a VGG19 checkpoint.
        let digest = sink.digest.finalize()
        if let expected = expectedPrefix(dest.lastPathComponent) {
            guard digest.hasPrefix(expected) else {
                throw WeightsError("the download of \(dest.lastPathComponent) is corrupt: its SHA-256 starts \(digest.prefix(8)), expected \(expected); try again, or \(howToPlace)")
            }
        } else if let expected = expectedSHA256 {
            guard digest == expected else {
                throw WeightsError("the download of \(dest.lastPathComponent) has SHA-256 \(digest), not IMPASTO_WEIGHTS_SHA256's \(expected)")
            }
        } else {
            do { _ = try WeightsFile.load(part) } catch {
                throw WeightsError("the download of \(url.absoluteString) is not VGG19 weights (\(error)); its name carries no SHA-256 prefix, so set IMPASTO_WEIGHTS_SHA256 or \(howToPlace)")
            }
        }
        guard rename(part.path, dest.path) == 0 else {
            throw WeightsError("cannot move the download into \(InputFile.display(dest.path)): \(InputFile.reason(errno))")
        }
    }
}

/// Streams a response body into a file and a hash; signals `done` at the end.
private final class DownloadSink: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let out: FileHandle
    let progress: ((Int64, Int64?) -> Void)?
    let done = DispatchSemaphore(value: 0)
    var digest = SHA256()
    var received: Int64 = 0
    var expected: Int64?
    var failure: String?

    let minimumRate: Double
    let grace: TimeInterval
    let start = Date()

    init(out: FileHandle, progress: ((Int64, Int64?) -> Void)?, minimumRate: Double, grace: TimeInterval) {
        self.out = out
        self.progress = progress
        self.minimumRate = minimumRate
        self.grace = grace
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
            failure = "HTTP status \(http.statusCode)"
            completionHandler(.cancel)
            return
        }
        expected = response.expectedContentLength > 0 ? response.expectedContentLength : nil
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard failure == nil else { return }
        do { try out.write(contentsOf: data) } catch {
            failure = "cannot write: \(ErrorText.describe(error))"
            dataTask.cancel()
            return
        }
        digest.update(data)
        received += Int64(data.count)
        progress?(received, expected)
        let elapsed = Date().timeIntervalSince(start)
        if elapsed > grace, Double(received) / elapsed < minimumRate {
            failure = String(format: "too slow: %lld bytes in %.0f s, below %.0f KB/s", received, elapsed, minimumRate / 1024)
            dataTask.cancel()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if failure == nil, let error { failure = ErrorText.describe(error) }
        if failure == nil, let expected, received != expected { failure = "the connection closed after \(received) of \(expected) bytes" }
        done.signal()
    }
}
