import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The official VGG19 weights: fetched once into the cache, checked against the SHA-256 prefix
/// in the file name (torchvision's convention: `vgg19-dcbb9e9d.pth`), renamed into place only
/// when whole and correct.
public enum WeightsDownload {
    public static let officialURL = URL(string: "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth")!

    /// IMPASTO_WEIGHTS_URL replaces the official address (a mirror; the tests' loopback server).
    public static var sourceURL: URL {
        if let s = ProcessInfo.processInfo.environment["IMPASTO_WEIGHTS_URL"], let u = URL(string: s) { return u }
        return officialURL
    }

    /// `$XDG_CACHE_HOME/impasto`, else `~/.cache/impasto`.
    public static var cacheDirectory: URL { CacheDirectory.url }

    /// The hash prefix a file name promises ("vgg19-dcbb9e9d.pth" → "dcbb9e9d"), if any.
    static func expectedPrefix(_ fileName: String) -> String? {
        let stem = (fileName as NSString).deletingPathExtension
        guard let dash = stem.lastIndex(of: "-") else { return nil }
        let hex = stem[stem.index(after: dash)...]
        return hex.count >= 6 && hex.allSatisfy(\.isHexDigit) ? hex.lowercased() : nil
    }

    /// The cached file, downloading it first if needed. `progress` gets (bytes so far, total or nil).
    public static func cachedWeights(from url: URL = sourceURL, progress: ((Int64, Int64?) -> Void)? = nil) throws -> URL {
        let dest = cacheDirectory.appendingPathComponent(url.lastPathComponent)
        if FileManager.default.fileExists(atPath: dest.path) { return dest }
        do {
            try FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
        } catch {
            throw WeightsError("cannot create the cache directory \(cacheDirectory.path): \(error.localizedDescription)")
        }
        try download(url, to: dest, progress: progress)
        return dest
    }

    static func download(_ url: URL, to dest: URL, progress: ((Int64, Int64?) -> Void)?) throws {
        let part = dest.appendingPathExtension("part")
        try? FileManager.default.removeItem(at: part)
        guard FileManager.default.createFile(atPath: part.path, contents: nil), let out = FileHandle(forWritingAtPath: part.path) else {
            throw WeightsError("cannot write \(part.path)")
        }
        let sink = DownloadSink(out: out, progress: progress)
        let session = URLSession(configuration: .ephemeral, delegate: sink, delegateQueue: nil)
        session.dataTask(with: URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: 60)).resume()
        sink.done.wait()
        session.finishTasksAndInvalidate()
        try? out.close()
        let howToPlace = "place \(dest.lastPathComponent) in \(dest.deletingLastPathComponent().path) by hand, or pass --weights PATH (or --weights random for a demo)"
        if let failure = sink.failure {
            try? FileManager.default.removeItem(at: part)
            throw WeightsError("cannot download \(url.absoluteString) (\(failure)); \(howToPlace)")
        }
        let digest = sink.digest.finalize()
        if let expected = expectedPrefix(url.lastPathComponent), !digest.hasPrefix(expected) {
            try? FileManager.default.removeItem(at: part)
            throw WeightsError("the download of \(url.lastPathComponent) is corrupt: its SHA-256 starts \(digest.prefix(8)), expected \(expected); try again, or \(howToPlace)")
        }
        guard rename(part.path, dest.path) == 0 else {
            try? FileManager.default.removeItem(at: part)
            throw WeightsError("cannot move the download into \(dest.path)")
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

    init(out: FileHandle, progress: ((Int64, Int64?) -> Void)?) {
        self.out = out
        self.progress = progress
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
            failure = "cannot write: \(error.localizedDescription)"
            dataTask.cancel()
            return
        }
        digest.update(data)
        received += Int64(data.count)
        progress?(received, expected)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if failure == nil, let error { failure = error.localizedDescription }
        if failure == nil, let expected, received != expected { failure = "the connection closed after \(received) of \(expected) bytes" }
        done.signal()
    }
}
