import ArgumentParser
import Foundation
import Impasto

struct Batch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stylize many pictures in one process: one device set-up, one weights load, each style measured once.",
        discussion: """
        MANIFEST holds JSON lines, one job each, with stylize's options by their long names: \
        {"content": "a.jpg", "style": "s.jpg", "output": "out/a.png", "iterations": 300}; "style" may be \
        a list (with "style-blend": [3, 1]), true turns a flag on. Options given after the manifest \
        are every job's defaults; a line's own replace them. Or --content-dir DIR --output-dir OUT \
        with --style: every PNG/JPEG in DIR. Bad lines are refused before any work. A job whose \
        output has a marker OUTPUT.done.json with the job's key (its inputs' bytes, options, \
        impasto's version and the weights) is skipped, so a rerun does only what is left. SIGTERM or \
        Ctrl-C stops the running job after its iteration with its state in OUTPUT.checkpoint (also every \
        --checkpoint-every N iterations); the rerun resumes it to the bytes of an uninterrupted run.
        """)

    @Option(help: "Every PNG and JPEG in this folder is a job (with --output-dir and --style).") var contentDir: String?
    @Option(help: "Where --content-dir's results go, as NAME.png.") var outputDir: String?
    @Option(help: "Append a JSON line per job here: started, done (losses, seconds), skipped, failed (the error).")
    var status: String?
    @Flag(help: "Run again the jobs whose last line in --status says failed (a rerun otherwise leaves them).")
    var retryFailed = false
    @Option(help: "Run only shard K of N (K from 0): the jobs whose key is K modulo N. Default: from SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX with --shards N.")
    var shard: String?
    @Option(help: "How many shards, with an index from JOB_COMPLETION_INDEX (Kubernetes) or AWS_BATCH_JOB_ARRAY_INDEX.")
    var shards: Int?
    @Option(help: "Run a worker per device, taking jobs from one queue: all, or a comma-separated list of device indices or names (see `impasto devices`).")
    var devices: String?
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("MANIFEST (JSON lines, one job each; first), then stylize options: every job's defaults.",
                                                             valueName: "manifest-and-stylize-options"))
    var arguments: [String] = []

    /// The manifest: a first argument that is not an option (an option's value cannot be told
    /// from a manifest later on).
    var manifest: String? { arguments.first.flatMap { $0.hasPrefix("-") ? nil : $0 } }
    /// Every job's stylize options.
    var defaults: [String] { manifest == nil ? arguments : Array(arguments.dropFirst()) }

    func validate() throws {
        guard (manifest == nil) != (contentDir == nil) else { throw ValidationError("give a MANIFEST or --content-dir, not both and not neither") }
        if contentDir != nil && outputDir == nil { throw ValidationError("--content-dir needs --output-dir") }
        if contentDir == nil && outputDir != nil { throw ValidationError("--output-dir goes with --content-dir") }
        try validateAsUsage { _ = try BatchShard.resolve(shard, shards: shards, environment: ProcessInfo.processInfo.environment) }
        if let devices, devices != "all",
           devices.split(separator: ",", omittingEmptySubsequences: false).contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError("--devices '\(devices)': give 'all' or a comma-separated list of devices, none empty")
        }
    }

    func run() throws {
        guarded { try runBatch() }
    }

    /// The jobs parsed and checked together (`BatchRun`), this shard's run by a worker per
    /// device, each event shown and the summary printed.
    func runBatch() throws {
        let environment = ProcessInfo.processInfo.environment
        var options = BatchRun.Options()
        do { options.shard = try BatchShard.resolve(self.shard, shards: shards, environment: environment) } catch let e as SettingError {
            throw ValidationError(described(e))
        }
        (options.status, options.retryFailed, options.manifest, options.names) = (status, retryFailed, manifest, optionNames)
        let defaults = try BatchManifest.group(self.defaults)

        var jobs: [BatchJob] = [], problems: [String] = []
        for entry in try manifest.map(BatchManifest.entries(manifest:)) ?? BatchManifest.entries(pictures: contentDir!, outputs: outputDir!) {
            do { jobs.append(try BatchManifest.job(origin: entry.origin, arguments: BatchManifest.merge(defaults, try entry.settings()))) } catch {
                problems.append("\(entry.origin): " + errorLine(error))
            }
        }
        // Every job's checks and one guard for the whole batch, before any work; the lines
        // that did not parse are reported with the problems the others have.
        var batch: BatchRun?
        do { batch = try BatchRun(jobs: jobs, options: options) } catch let e as BatchProblems { problems += e.lines }
        guard let batch, problems.isEmpty else {
            for p in problems { printError("impasto: batch: \(ErrorText.oneLine(p))") }
            throw ExitCode(65)
        }

        Interrupt.install()
        let progress = ProgressDisplay(total: 0, quiet: false)
        let selector = defaults.last { $0.name == "device" }?.values?.first ?? environment["IMPASTO_DEVICE"]
        let chosen = try Device.select(list: devices, else: selector)
        let shardText = options.shard.count > 1 ? " (shard \(options.shard.index) of \(options.shard.count))" : ""
        let deviceText = chosen.count > 1 ? " on \(chosen.count) devices" : ""
        progress.message("batch: \(batch.selected.count) of \(jobs.count) jobs\(shardText)\(deviceText)")
        let c = batch.run(devices: chosen, context: { try tunedContext(device: $0) }, weightsProgress: downloadProgress(quiet: false),
                          shouldStop: { Interrupt.requested != 0 }, events: { progress.message(Self.line($0)) })
        if c.interrupted { Foundation.exit(Interrupt.exitStatus) }
        var summary = String(format: "batch: %d done, %d skipped, %d failed", c.done, c.skipped, c.failed)
        if c.failedBefore > 0 { summary += ", \(c.failedBefore) failed before and not retried (--retry-failed runs them)" }
        if c.claimed > 0 { summary += ", \(c.claimed) running in another process" }
        progress.message(summary + String(format: " in %.1f s", c.seconds))
        // Not every job of this shard is done: say so in the exit status.
        if !c.finished { throw ExitCode(1) }
    }

    /// A job's event as the line the batch prints.
    static func line(_ e: BatchEvent) -> String {
        let label = "[\(e.index + 1)/\(e.count)] \(e.origin) → \(e.output)"
        switch e.kind {
        case .started(let resuming): return "\(label): started" + (resuming ? ", from its checkpoint" : "")
        case .skipped(.done): return "\(label): done before, skipped"
        case .skipped(.failedBefore): return "\(label): failed before, skipped"
        case .skipped(.claimed): return "\(label): another process is running it, skipped"
        case .done(let d): return String(format: "%@: done in %.1f s", label, d.seconds)
        case .failed(let error): return "\(label): failed: \(ErrorText.oneLine(error))"
        case .interrupted(let iterations?, _):
            return "\(label): interrupted after \(iterations) iterations, no picture written; a rerun resumes from \(e.checkpoint)"
        case .interrupted(_, let frames?): return "\(label): interrupted after \(frames) finished frames; a rerun resumes in the next"
        case .interrupted: return "\(label): interrupted; a rerun resumes it"
        }
    }
}
