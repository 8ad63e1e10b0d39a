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
        _ = try BatchShard.resolve(shard, shards: shards, environment: ProcessInfo.processInfo.environment)
        if let devices, devices != "all",
           devices.split(separator: ",", omittingEmptySubsequences: false).contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError("--devices '\(devices)': give 'all' or a comma-separated list of devices, none empty")
        }
    }

    func run() throws {
        guarded { try runBatch() }
    }
}
