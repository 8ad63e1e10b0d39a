import Foundation

/// A batch's status log: one JSON line per job event, appended (a rerun adds to the history), and
/// what the history says: the keys whose last event was a failure.
package final class BatchStatus {
    package let path: String
    let handle: FileHandle
    let label: String
    /// Keys whose last recorded event is "failed".
    package private(set) var failedKeys: Set<String> = []

    /// The history read, then the file opened to append. It must be a regular file (or not
    /// exist yet): a FIFO would block the batch forever and a device is no history; opened
    /// without blocking and checked again on the descriptor.
    /// `label` names the log in messages.
    package init(path: String, label: String = "the status log") throws {
        self.path = path
        self.label = label
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0o644)
        guard fd >= 0 else { throw FileError("\(label) \(InputFile.display(path)): \(InputFile.reason(errno))") }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw FileError("\(label) \(InputFile.display(path)) is \(InputFile.kind(st.st_mode) ?? "not a regular file"); the status log must be a file")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        if let data = try? InputFile.read(path, maxBytes: 1 << 30), let text = String(data: data, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let key = o["key"] as? String, let event = o["event"] as? String else { continue }
                if event == "failed" { failedKeys.insert(key) } else if event != "skipped" { failedKeys.remove(key) }
            }
        }
    }

    func record(_ job: BatchJob, key: String, event: String, extra: [String: Any] = [:]) throws {
        var o: [String: Any] = ["job": job.origin, "output": job.output, "key": key, "event": event,
                                "time": ISO8601DateFormatter().string(from: Date())]
        o.merge(extra) { $1 }
        let data = try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .withoutEscapingSlashes]) + Data("\n".utf8)
        do { try handle.write(contentsOf: data) } catch {
            throw FileError("\(label) \(InputFile.display(path)): cannot write (\(ErrorText.describe(error)))")
        }
    }
}
