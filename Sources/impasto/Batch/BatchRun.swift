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

        // 1. Every job parsed, then one guard for the whole batch: every output of every line
        // against every input of every line (by device and inode), the manifest and the status
        // file; no two outputs in one place. All before any work.
        var jobs: [BatchJob] = [], problems: [String] = []
        for (origin, line) in try jobLines() {
            do {
                let arguments = BatchManifest.merge(defaults, try line())
                if arguments.contains("--frames") || arguments.contains("--input") {
                    let video = try Video.parse(arguments)
                    jobs.append(BatchJob(origin: origin, arguments: arguments, command: try video.checkFiles(), video: video))
                } else {
                    jobs.append(BatchJob(origin: origin, arguments: arguments, command: try Stylize.parse(arguments)))
                }
            } catch {
                problems.append("\(origin): " + errorLine(error))
            }
        }
        var inputs = OutputGuard()
        if let manifest { try inputs.protect(manifest, as: "the manifest") }
        var checked: [BatchJob] = []
        for job in jobs {
            do {
                for (path, option) in try job.inputFiles() { try inputs.protect(path, as: "\(job.origin): \(option)") }
                checked.append(job)
            } catch {
                problems.append(errorLine(error))
            }
        }
        var outputs = inputs
        for job in checked {
            do { outputs = try job.guardOutputs(outputs) } catch { problems.append(errorLine(error)) }
        }
        // A job writing into another line's frame folder would add a frame to that clip.
        for job in checked { for other in checked where other.video?.frames != nil {
            if OutputGuard.isInside(job.output, other.video!.frames!) && job.origin != other.origin {
                problems.append("\(job.origin): \(InputFile.display(job.output)) lies in \(other.origin)'s --frames folder")
            }
        } }
        if let status {
            do {
                try outputs.checkLog(status, option: "--status")
                try outputs.claim(status, as: "--status")
            } catch { problems.append(errorLine(error)) }
        }
        guard problems.isEmpty else {
            for p in problems { printError("impasto: batch: \(ErrorText.oneLine(p))") }
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
        let queue = BatchQueue(jobs: mine, inputsOfAll: inputs, status: statusLog, failedBefore: failedBefore, retryFailed: retryFailed,
                               progress: progress)
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
        var summary = String(format: "batch: %d done, %d skipped, %d failed", c.done, c.skipped, c.failed)
        if c.failedBefore > 0 { summary += ", \(c.failedBefore) failed before and not retried (--retry-failed runs them)" }
        if c.claimed > 0 { summary += ", \(c.claimed) running in another process" }
        progress.message(summary + String(format: " in %.1f s", Date().timeIntervalSince(start)))
        // Not every job of this shard is done: say so in the exit status.
        if c.failed > 0 || c.failedBefore > 0 { throw ExitCode(1) }
    }

    /// --devices: every OpenCL device, or those the comma-separated selectors name (see
    /// `impasto devices`); else the one --device (or IMPASTO_DEVICE, or the best) names.
    func workerDevices(_ selector: String?) throws -> [Device] {
        let all = try Device.all()
        guard let devices else { return [try Device.select(selector, among: all)] }
        if devices == "all" { return all }
        var picked: [Device] = []
        for part in devices.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {  // none empty (validate)
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
            return text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated().compactMap { i, raw in
                let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)  // JSON Lines allows \r\n
                if line.isEmpty || line.hasPrefix("#") { return nil }
                return ("line \(i + 1)", { try BatchManifest.settings(line) })
            }
        }
        let dir = contentDir!, out = outputDir!
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
            throw FileError("--content-dir \(InputFile.display(dir)): \(ErrorText.describe(error))")
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
}
