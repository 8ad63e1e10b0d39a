import Foundation
import Impasto

/// `batch --status`: one JSON line per job event, appended (a rerun adds to the history), and
/// what the history says: the keys whose last event was a failure.
final class BatchStatus {
    let path: String
    let handle: FileHandle
    /// Keys whose last recorded event is "failed".
    private(set) var failedKeys: Set<String> = []

    init(path: String) throws {
        self.path = path
        if let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let key = o["key"] as? String, let event = o["event"] as? String else { continue }
                if event == "failed" { failedKeys.insert(key) } else if event != "skipped" { failedKeys.remove(key) }
            }
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError("--status \(InputFile.display(path)): \(String(cString: strerror(errno)))") }
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    func record(_ job: BatchJob, key: String, event: String, extra: [String: Any] = [:]) throws {
        var o: [String: Any] = ["job": job.origin, "output": job.output, "key": key, "event": event,
                                "time": ISO8601DateFormatter().string(from: Date())]
        o.merge(extra) { $1 }
        let data = try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .withoutEscapingSlashes]) + Data("\n".utf8)
        do { try handle.write(contentsOf: data) } catch {
            throw FileError("--status \(InputFile.display(path)): cannot write (\(error.localizedDescription))")
        }
    }
}
