import ArgumentParser
import Foundation
import Impasto

/// `batch`: the jobs checked, keyed and sharded, then run by a worker per device (one unless
/// --devices) with warm state, each failure recorded and the batch going on.
extension Batch {
    func runBatch() throws {
        let environment = ProcessInfo.processInfo.environment
        let shard = try BatchShard.resolve(self.shard, shards: shards, environment: environment)
        let defaults = try BatchManifest.group(self.defaults)

        // 1. Every job parsed and its files checked, before any work.
        var jobs: [BatchJob] = [], problems: [String] = []
        for (origin, line) in try jobLines() {
            do {
                let arguments = BatchManifest.merge(defaults, try line())
                if arguments.contains("--frames") || arguments.contains("--input") {
                    let video = try Video.parse(arguments)
                    jobs.append(BatchJob(origin: origin, arguments: arguments, command: try video.checkFiles(), video: video))
                    continue
                }
                let command = try Stylize.parse(arguments)
                _ = try command.guardFiles()
                jobs.append(BatchJob(origin: origin, arguments: arguments, command: command))
            } catch {
                problems.append("\(origin): " + Self.oneLine(error))
            }
        }
        var outputs: [String: String] = [:]
        for job in jobs {
            let path = URL(fileURLWithPath: job.output).standardizedFileURL.path
            if let other = outputs[path] { problems.append("\(job.origin): --output \(job.output) is also \(other)'s") }
            outputs[path] = job.origin
        }
        guard problems.isEmpty else {
            for p in problems { printError("impasto: batch: \(p)") }
            throw ExitCode(65)
        }

        // 2. Keys, this shard's share, and what earlier runs finished or gave up on.
        var weightsHashes: [String: String] = [:]
        let keyed = try jobs.map { job -> (BatchJob, String) in
            let spec = job.command.weights ?? "official"
            let hash = try weightsHashes[spec] ?? Stylize.weightsHash(job.command.weights)
            weightsHashes[spec] = hash
            return (job, try job.video.map { try $0.videoKey(job.command, weightsHash: hash) }
                ?? job.command.runKey(arguments: job.arguments, weightsHash: hash))
        }
        let mine = keyed.filter { shard.contains(key: $0.1) }
        let statusLog = try status.map { try BatchStatus(path: $0) }
        let failedBefore = statusLog?.failedKeys ?? []

        // 3. The run: a worker per device (one by default), each with its context and one
        // warm Stylization per weights, taking jobs from a shared queue; each job isolated.
        Interrupt.install()
        let progress = ProgressDisplay(total: 0, quiet: false)
        let selector = defaults.last { $0.name == "device" }?.values?.first ?? environment["IMPASTO_DEVICE"]
        let chosen = try workerDevices(selector)
        let shardText = shard.count > 1 ? " (shard \(shard.index) of \(shard.count))" : ""
        let deviceText = chosen.count > 1 ? " on \(chosen.count) devices" : ""
        progress.message("batch: \(mine.count) of \(jobs.count) jobs\(shardText)\(deviceText)")
        let queue = BatchQueue(jobs: mine, status: statusLog, failedBefore: failedBefore, retryFailed: retryFailed, progress: progress)
        let start = Date()
        if chosen.count == 1 {
            queue.work(device: chosen[0])
        } else {
            let threads = chosen.map { d in Thread { queue.work(device: d) } }
            for t in threads { t.stackSize = 8 << 20; t.start() }
            queue.waitForWorkers(chosen.count)
        }
        if queue.interrupted { Foundation.exit(Interrupt.exitStatus) }
        let c = queue.counts
        progress.message(String(format: "batch: %d done, %d skipped, %d failed in %.1f s", c.done, c.skipped, c.failed,
                                Date().timeIntervalSince(start)))
        if c.failed > 0 { throw ExitCode(1) }
    }

    /// --devices: every OpenCL device, or those the comma-separated selectors name (see
    /// `impasto devices`); else the one --device (or IMPASTO_DEVICE, or the best) names.
    func workerDevices(_ selector: String?) throws -> [Device] {
        let all = try Device.all()
        guard let devices else { return [try Device.select(selector, among: all)] }
        if devices == "all" { return all }
        var picked: [Device] = []
        for part in devices.split(separator: ",") {
            let d = try Device.select(String(part), among: all)
            if !picked.contains(where: { $0.index == d.index }) { picked.append(d) }
        }
        return picked
    }

    /// The manifest's lines (blank ones and `#` comments aside), or --content-dir's pictures,
    /// each as its origin and a function giving its settings (which may throw: a bad line).
    func jobLines() throws -> [(String, () throws -> [BatchManifest.Setting])] {
        if let manifest {
            let data = try InputFile.read(manifest, maxBytes: 1 << 28)
            guard let text = String(data: data, encoding: .utf8) else { throw FileError("\(InputFile.display(manifest)) is not UTF-8 text") }
            return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { i, raw in
                let line = raw.trimmingCharacters(in: .whitespaces)
                if line.isEmpty || line.hasPrefix("#") { return nil }
                return ("line \(i + 1)", { try BatchManifest.settings(line) })
            }
        }
        let dir = contentDir!, out = outputDir!
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
            throw FileError("--content-dir \(InputFile.display(dir)): \(error.localizedDescription)")
        }
        let pictures = names.filter { !$0.hasPrefix(".") && ["png", "jpg", "jpeg"].contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) }.sorted()
        guard !pictures.isEmpty else { throw FileError("--content-dir \(InputFile.display(dir)) holds no PNG or JPEG pictures") }
        return pictures.map { name in
            let stem = URL(fileURLWithPath: name).deletingPathExtension().lastPathComponent
            let content = URL(fileURLWithPath: dir).appendingPathComponent(name).path
            let output = URL(fileURLWithPath: out).appendingPathComponent(stem + ".png").path
            return (name, { [("content", [content]), ("output", [output])] })
        }
    }

    /// A job's error as `stylize` would say it (argument-parser's message for usage errors), one line.
    static func oneLine(_ error: Error) -> String {
        Stylize.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
    }
}
