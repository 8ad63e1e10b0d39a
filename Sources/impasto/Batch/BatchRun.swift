import ArgumentParser
import Foundation
import Impasto

/// `batch`: the jobs checked, keyed and sharded, then run one after another on one device
/// with warm state, each failure recorded and the batch going on.
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
                let command = try Stylize.parse(arguments)
                _ = try command.guardFiles()
                jobs.append(BatchJob(origin: origin, arguments: arguments, command: command))
            } catch {
                problems.append("\(origin): " + (Stylize.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"))
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
            let hash = try weightsHashes[spec] ?? Self.weightsHash(job.command.weights)
            weightsHashes[spec] = hash
            return (job, try job.key(weightsHash: hash))
        }
        let mine = keyed.filter { shard.contains(key: $0.1) }
        let statusLog = try status.map { try BatchStatus(path: $0) }
        let failedBefore = statusLog?.failedKeys ?? []

        // 3. The run: one context, one Stylization per weights, each job isolated.
        Interrupt.install()
        let progress = ProgressDisplay(total: 0, quiet: false)
        let shardText = shard.count > 1 ? " (shard \(shard.index) of \(shard.count))" : ""
        progress.message("batch: \(mine.count) of \(jobs.count) jobs\(shardText)")
        let device = defaults.last { $0.name == "device" }?.values?.first ?? environment["IMPASTO_DEVICE"]
        var context: CLContext?
        var runs: [String: (Stylization, Bool)] = [:]
        var counts = (done: 0, skipped: 0, failed: 0)
        let start = Date()
        for (n, (job, key)) in mine.enumerated() {
            let label = "[\(n + 1)/\(mine.count)] \(job.origin) → \(job.output)"
            if job.isDone(key: key) {
                counts.skipped += 1
                try statusLog?.record(job, key: key, event: "skipped", extra: ["reason": "done"])
                progress.message("\(label): done before, skipped")
                continue
            }
            if failedBefore.contains(key) && !retryFailed {
                counts.skipped += 1
                try statusLog?.record(job, key: key, event: "skipped", extra: ["reason": "failed before (--retry-failed runs it)"])
                progress.message("\(label): failed before, skipped")
                continue
            }
            try statusLog?.record(job, key: key, event: "started")
            let jobStart = Date()
            do {
                let outputs = try job.command.guardFiles()
                let request = try job.command.prepare()
                if context == nil { context = try tunedContext(device) }
                let spec = job.command.weights ?? "official"
                if runs[spec] == nil {
                    let (weights, random) = try job.command.resolveWeights(progress)
                    runs[spec] = (Stylization(context: context!, weights: weights, keepsWarm: true), random)
                }
                let (run, random) = runs[spec]!
                let (result, _) = try job.command.perform(request, on: run, randomWeights: random, outputs: outputs)
                if result.interrupted {
                    try statusLog?.record(job, key: key, event: "interrupted", extra: ["iterations": result.iterations])
                    progress.message("\(label): interrupted after \(result.iterations) iterations; a rerun starts it again")
                    Foundation.exit(Interrupt.exitStatus)
                }
                let seconds = Date().timeIntervalSince(jobStart)
                let l = result.losses
                let (c, st, tv) = (Double(l?.content ?? 0), Double(l?.style ?? 0), Double(l?.tv ?? 0))
                try job.writeMarker(BatchJob.Marker(key: key, content: c, style: st, tv: tv, total: c + st + tv,
                                                    iterations: result.iterations, seconds: seconds, device: context!.device.name))
                counts.done += 1
                try statusLog?.record(job, key: key, event: "done", extra: [
                    "content": c, "style": st, "tv": tv, "total": c + st + tv, "iterations": result.iterations, "seconds": seconds])
                progress.message(String(format: "%@: done in %.1f s", label, seconds))
            } catch {
                counts.failed += 1
                let message = Stylize.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
                try statusLog?.record(job, key: key, event: "failed", extra: ["error": message])
                progress.message("\(label): failed: \(message)")
            }
        }
        progress.message(String(format: "batch: %d done, %d skipped, %d failed in %.1f s", counts.done, counts.skipped, counts.failed,
                                Date().timeIntervalSince(start)))
        if counts.failed > 0 { throw ExitCode(1) }
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

    /// What the key takes of a --weights value: a file's SHA-256, random weights' seed, or the
    /// official file's name (its hash is checked on download).
    static func weightsHash(_ spec: String?) throws -> String {
        guard let spec else { return WeightsDownload.officialURL.lastPathComponent }
        if spec == "random" || spec.hasPrefix("random:") { return spec == "random" ? "random:0" : spec }
        let reader = try InputFile.Reader(spec)
        var h = SHA256()
        var offset = 0
        while offset < reader.size {
            let chunk = try reader.read(at: offset, count: min(8 << 20, reader.size - offset))
            h.update(chunk)
            offset += chunk.count
        }
        return h.finalize()
    }
}
