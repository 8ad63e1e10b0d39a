import Foundation
import Impasto

/// A batch's jobs shared by its workers (one per device): each takes the next job, runs it on
/// its own context with its own warm `Stylization`s, and records what became of it. Weights
/// are loaded once for all workers.
final class BatchQueue {
    private let jobs: [(BatchJob, String)]
    private let status: BatchStatus?
    private let failedBefore: Set<String>
    private let retryFailed: Bool
    private let progress: ProgressDisplay
    private let lock = NSLock()
    private var next = 0
    private var weights: [String: (VGGWeights, Bool)] = [:]
    /// failedBefore: jobs a rerun left alone because they failed before (not done: the batch
    /// is not finished, so it exits non-zero); claimed: jobs another process is running.
    private(set) var counts = (done: 0, skipped: 0, failed: 0, failedBefore: 0, claimed: 0)
    /// A job was stopped by SIGINT or SIGTERM: no worker takes another.
    private(set) var interrupted = false
    private var finished = 0
    private let allDone = NSCondition()

    /// Every input of every line: a job's outputs are checked against them all again just
    /// before it runs (a file may have changed since the batch's check).
    private let inputsOfAll: OutputGuard

    init(jobs: [(BatchJob, String)], inputsOfAll: OutputGuard, status: BatchStatus?, failedBefore: Set<String>, retryFailed: Bool,
         progress: ProgressDisplay) {
        (self.jobs, self.inputsOfAll, self.status, self.failedBefore, self.retryFailed, self.progress) =
            (jobs, inputsOfAll, status, failedBefore, retryFailed, progress)
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func take() -> (Int, BatchJob, String)? {
        locked {
            guard !interrupted, Interrupt.requested == 0, next < jobs.count else { return nil }
            next += 1
            return (next - 1, jobs[next - 1].0, jobs[next - 1].1)
        }
    }

    private func record(_ job: BatchJob, _ key: String, _ event: String, _ extra: [String: Any] = [:], message: String) {
        locked {
            do { try status?.record(job, key: key, event: event, extra: extra) } catch { progress.message("impasto: \(error)") }
            progress.message(message)
        }
    }

    /// One worker: jobs from the queue on `device` until none is left.
    func work(device: Device) {
        defer { allDone.lock(); finished += 1; allDone.signal(); allDone.unlock() }
        var context: CLContext?
        var runs: [String: (Stylization, Bool)] = [:]
        while let (n, job, key) = take() {
            let label = "[\(n + 1)/\(jobs.count)] \(job.origin) → \(job.output)"
            if job.isDone(key: key) {
                locked { counts.skipped += 1 }
                record(job, key, "skipped", ["reason": "done"], message: "\(label): done before, skipped")
                continue
            }
            if failedBefore.contains(key) && !retryFailed {
                locked { counts.failedBefore += 1 }
                record(job, key, "skipped", ["reason": "failed before (--retry-failed runs it)"], message: "\(label): failed before, skipped")
                continue
            }
            let claim: BatchClaim
            do {
                guard let taken = try BatchClaim.take(job.claimFile) else {
                    locked { counts.claimed += 1 }
                    record(job, key, "skipped", ["reason": "running in another process"], message: "\(label): another process is running it, skipped")
                    continue
                }
                claim = taken
            } catch {
                locked { counts.failed += 1 }
                record(job, key, "failed", ["error": errorLine(error)], message: "\(label): failed: \(errorLine(error))")
                continue
            }
            defer { claim.release() }
            if job.isDone(key: key) {  // finished by another process while this one waited
                locked { counts.skipped += 1 }
                record(job, key, "skipped", ["reason": "done"], message: "\(label): done before, skipped")
                continue
            }
            let resuming = FileManager.default.fileExists(atPath: job.checkpoint)
            record(job, key, "started", resuming ? ["checkpoint": job.checkpoint] : [:],
                   message: "\(label): started" + (resuming ? ", from its checkpoint" : ""))
            let start = Date()
            do {
                let video = try job.video.map { ($0, try $0.prepare()) }
                let outputs = video == nil ? try job.command.guardFiles(inputsOfAll) : OutputGuard()
                let request = video == nil ? try job.command.prepare() : nil
                if context == nil { context = try tunedContext(device: device) }
                let spec = job.command.weights ?? "official"
                if runs[spec] == nil {
                    let (vgg, random) = try locked { try weights[spec] ?? job.command.resolveWeights(progress) }
                    locked { weights[spec] = (vgg, random) }
                    runs[spec] = (Stylization(context: context!, weights: vgg, keepsWarm: true), random)
                }
                let (run, random) = runs[spec]!
                // A video does its frames, a picture its iterations; either may be stopped.
                let l: LossTerms?, iterations: Int, stopped: (extra: [String: Any], message: String)?
                if let (command, plan) = video {
                    let outcome = try command.perform(plan, on: run, randomWeights: random, key: key, progress: progress)
                    (l, iterations) = (outcome.losses, outcome.frames)
                    stopped = outcome.interrupted ? (["frames": outcome.frames],
                                                     "interrupted after \(outcome.frames) finished frames; a rerun resumes in the next") : nil
                } else {
                    let (result, _) = try job.command.perform(request!, on: run, randomWeights: random, outputs: outputs,
                                                               checkpoint: (job.checkpoint, key), writeInterrupted: false)
                    (l, iterations) = (result.losses, result.iterations)
                    stopped = result.interrupted ? (["iterations": result.iterations],
                                                    "interrupted after \(result.iterations) iterations, no picture written; a rerun resumes from \(job.checkpoint)") : nil
                }
                if let stopped {
                    locked { interrupted = true }
                    record(job, key, "interrupted", stopped.extra, message: "\(label): \(stopped.message)")
                    return
                }
                let seconds = Date().timeIntervalSince(start)
                let (c, st, tv) = (Double(l?.content ?? 0), Double(l?.style ?? 0), Double(l?.tv ?? 0))
                let deviceName = "[\(device.index)] \(device.name)"
                guard let result = job.resultDigest() else { throw FileError("\(InputFile.display(job.output)) is missing or empty after the job") }
                try job.writeMarker(BatchJob.Marker(key: key, result: result, content: c, style: st, tv: tv, total: c + st + tv,
                                                    iterations: iterations, seconds: seconds, device: deviceName))
                locked { counts.done += 1 }
                record(job, key, "done", ["content": c, "style": st, "tv": tv, "total": c + st + tv, (video == nil ? "iterations" : "frames"): iterations,
                                          "seconds": seconds, "device": deviceName],
                       message: String(format: "%@: done in %.1f s", label, seconds))
            } catch is ToolInterrupted {
                locked { interrupted = true }
                record(job, key, "interrupted", [:], message: "\(label): interrupted; a rerun resumes it")
                return
            } catch {
                let message = errorLine(error)
                locked { counts.failed += 1 }
                record(job, key, "failed", ["error": message], message: "\(label): failed: \(message)")
            }
        }
    }

    /// Blocks until `count` workers have returned.
    func waitForWorkers(_ count: Int) {
        allDone.lock()
        while finished < count { allDone.wait() }
        allDone.unlock()
    }
}
