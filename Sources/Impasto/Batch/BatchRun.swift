import Foundation

/// Problems found in a batch before any work: one line each (a manifest line's origin first).
public struct BatchProblems: Error, CustomStringConvertible, Sendable {
    public let lines: [String]
    public var description: String { lines.joined(separator: "; ") }
    public init(lines: [String]) { self.lines = lines }
}

/// What became of a batch's job, as it happens.
public struct BatchEvent: Sendable {
    public enum Kind: Sendable {
        case started(resuming: Bool)
        case skipped(Skip)
        case done(Done)
        case failed(error: String)
        /// Stopped (a signal, a cancelled task): a picture's checkpoint or a video's frames
        /// and checkpoint resume it. `iterations` (a picture) or `frames` (a video) were done.
        case interrupted(iterations: Int?, frames: Int?)
    }
    public enum Skip: String, Sendable {
        case done = "done"
        case failedBefore = "failed before (--retry-failed runs it)"
        case claimed = "running in another process"
    }
    public struct Done: Sendable {
        public let losses: LossTerms?
        /// A picture's iterations or a video's frames.
        public let iterations: Int
        public let seconds: Double
        public let device: String
    }

    /// The job's place in this process's share (from 0) and the share's size.
    public let index, count: Int
    public let origin, output: String
    /// Where an interrupted or resumed job's state is.
    public let checkpoint: String
    public let kind: Kind
}

/// How a batch ended in this process.
public struct BatchSummary: Sendable {
    public var done = 0, skipped = 0, failed = 0
    /// Jobs left because they failed before (`retryFailed` off): the batch is not finished.
    public var failedBefore = 0
    /// Jobs another process was running.
    public var claimed = 0
    /// A job was stopped: no worker took another.
    public var interrupted = false
    public var seconds = 0.0
    /// Every job of this share is done (or was done before, or is another process's).
    public var finished: Bool { failed == 0 && failedBefore == 0 && !interrupted }
}

/// A batch: its jobs checked together before any work (one guard for every output of every
/// job against every input of every job, the manifest and the status log), keyed, this
/// process's shard taken, then run by a worker per device from one queue, each worker with
/// its own context and warm `Stylization`s (the weights loaded once for all), each failure
/// recorded and the batch going on.
public final class BatchRun {
    public struct Options: Sendable {
        /// Appends a JSON line per job event (started, done, skipped, failed, interrupted).
        public var status: String?
        /// Run again the jobs whose last status line says failed.
        public var retryFailed = false
        public var shard = BatchShard.all
        /// The manifest, guarded as an input.
        public var manifest: String?
        public var names = FieldNames.fields
        public init() {}
    }

    public let jobs: [BatchJob]
    public let options: Options
    /// This shard's jobs with their keys, in manifest order.
    public let selected: [(job: BatchJob, key: String)]
    /// Every input of every job: checked again before each job writes.
    let inputs: OutputGuard
    let status: BatchStatus?

    /// Checks the whole batch and keys it; every problem found is in the thrown `BatchProblems`.
    public init(jobs: [BatchJob], options: Options) throws {
        (self.jobs, self.options) = (jobs, options)
        let names = options.names
        var problems: [String] = []
        var inputs = OutputGuard()
        if let manifest = options.manifest { try inputs.protect(manifest, as: "the manifest") }
        var checked: [BatchJob] = []
        for job in jobs {
            do {
                try job.validate()
                for (path, field) in try job.inputFiles() { try inputs.protect(path, as: "\(job.origin): \(names(field))") }
                checked.append(job)
            } catch let e as SettingError {
                problems.append("\(job.origin): " + e.described(naming: names.name))
            } catch {
                problems.append(ErrorText.describe(error))
            }
        }
        var outputs = inputs
        for job in checked {
            do { outputs = try job.guardOutputs(outputs, names: names) } catch { problems.append(ErrorText.describe(error)) }
        }
        // A job writing into another line's frame folder would add a frame to that clip.
        for job in checked {
            for other in checked where job.origin != other.origin {
                if case .frames(let frames)? = other.video?.source, OutputGuard.isInside(job.output, frames) {
                    problems.append("\(job.origin): \(InputFile.display(job.output)) lies in \(other.origin)'s \(names("frames")) folder")
                }
            }
        }
        if let status = options.status {
            do {
                try outputs.checkLog(status, option: names("status"))
                try outputs.claim(status, as: names("status"))
            } catch { problems.append(ErrorText.describe(error)) }
        }
        guard problems.isEmpty else { throw BatchProblems(lines: problems) }
        self.inputs = inputs

        var weightsKeys: [WeightsSpec: String] = [:]
        selected = try jobs.compactMap { job in
            let spec = job.picture.weights
            let wk = try weightsKeys[spec] ?? spec.keyComponent()
            weightsKeys[spec] = wk
            let key = try job.key(weightsKey: wk)
            return options.shard.contains(key: key) ? (job, key) : nil
        }
        status = try options.status.map { try BatchStatus(path: $0, label: names("status")) }
    }

    /// Runs this shard's jobs: one worker per device (threads when several), each with the
    /// context `context` makes for its device. `shouldStop` is asked between iterations (a
    /// signal, a cancelled task): the running job is checkpointed and no other is started.
    /// `events` is called from the workers, one call at a time.
    public func run(devices: [Device], context: @escaping (Device) throws -> CLContext,
                    weightsProgress: ((Int64, Int64?) -> Void)? = nil,
                    shouldStop: @escaping () -> Bool = { false }, events: @escaping (BatchEvent) -> Void = { _ in }) -> BatchSummary {
        let queue = BatchQueue(run: self, shouldStop: shouldStop, events: events, weightsProgress: weightsProgress)
        let start = Date()
        if devices.count == 1 {
            queue.work(device: devices[0], context: context)
        } else {
            let threads = devices.map { d in Thread { queue.work(device: d, context: context) } }
            for t in threads { t.stackSize = 8 << 20; t.start() }
            queue.waitForWorkers(devices.count)
        }
        var summary = queue.summary
        summary.seconds = Date().timeIntervalSince(start)
        return summary
    }
}

/// A batch's jobs shared by its workers: each takes the next job, runs it on its own context
/// with its own warm `Stylization`s, and records what became of it.
final class BatchQueue {
    let run: BatchRun
    let shouldStop: () -> Bool
    let events: (BatchEvent) -> Void
    let weightsProgress: ((Int64, Int64?) -> Void)?
    private let lock = NSLock()
    private var next = 0
    private var weights: [WeightsSpec: VGGWeights] = [:]
    private(set) var summary = BatchSummary()
    private var finished = 0
    private let allDone = NSCondition()
    let failedBefore: Set<String>

    init(run: BatchRun, shouldStop: @escaping () -> Bool, events: @escaping (BatchEvent) -> Void, weightsProgress: ((Int64, Int64?) -> Void)?) {
        (self.run, self.shouldStop, self.events, self.weightsProgress) = (run, shouldStop, events, weightsProgress)
        failedBefore = run.status?.failedKeys ?? []
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func take() -> (Int, BatchJob, String)? {
        locked {
            guard !summary.interrupted, !shouldStop(), next < run.selected.count else { return nil }
            next += 1
            return (next - 1, run.selected[next - 1].job, run.selected[next - 1].key)
        }
    }

    /// The status line and the caller's event, together.
    private func record(_ n: Int, _ job: BatchJob, _ key: String, _ kind: BatchEvent.Kind) {
        let event: String, extra: [String: Any]
        switch kind {
        case .started(let resuming): (event, extra) = ("started", resuming ? ["checkpoint": job.checkpoint] : [:])
        case .skipped(let why): (event, extra) = ("skipped", ["reason": why.rawValue])
        case .failed(let error): (event, extra) = ("failed", ["error": error])
        case .interrupted(let iterations, let frames):
            (event, extra) = ("interrupted", iterations.map { ["iterations": $0] } ?? frames.map { ["frames": $0] } ?? [:])
        case .done(let d):
            let (c, s, t) = (Double(d.losses?.content ?? 0), Double(d.losses?.style ?? 0), Double(d.losses?.tv ?? 0))
            (event, extra) = ("done", ["content": c, "style": s, "tv": t, "total": c + s + t, (job.video == nil ? "iterations" : "frames"): d.iterations,
                                       "seconds": d.seconds, "device": d.device])
        }
        locked {
            var problem: String?
            do { try run.status?.record(job, key: key, event: event, extra: extra) } catch { problem = ErrorText.describe(error) }
            events(BatchEvent(index: n, count: run.selected.count, origin: job.origin, output: job.output, checkpoint: job.checkpoint, kind: kind))
            if let problem {
                events(BatchEvent(index: n, count: run.selected.count, origin: job.origin, output: job.output, checkpoint: job.checkpoint,
                                  kind: .failed(error: "the status log: " + problem)))
            }
        }
    }

    /// One worker: jobs from the queue on `device` until none is left.
    func work(device: Device, context make: (Device) throws -> CLContext) {
        defer { allDone.lock(); finished += 1; allDone.signal(); allDone.unlock() }
        var context: CLContext?
        var runs: [WeightsSpec: Stylization] = [:]
        while let (n, job, key) = take() {
            if job.isDone(key: key) {
                locked { summary.skipped += 1 }
                record(n, job, key, .skipped(.done))
                continue
            }
            if failedBefore.contains(key) && !run.options.retryFailed {
                locked { summary.failedBefore += 1 }
                record(n, job, key, .skipped(.failedBefore))
                continue
            }
            let claim: BatchClaim
            do {
                guard let taken = try BatchClaim.take(job.claimFile) else {
                    locked { summary.claimed += 1 }
                    record(n, job, key, .skipped(.claimed))
                    continue
                }
                claim = taken
            } catch {
                locked { summary.failed += 1 }
                record(n, job, key, .failed(error: ErrorText.oneLine(ErrorText.describe(error))))
                continue
            }
            defer { claim.release() }
            if job.isDone(key: key) {  // finished by another process while this one waited
                locked { summary.skipped += 1 }
                record(n, job, key, .skipped(.done))
                continue
            }
            record(n, job, key, .started(resuming: FileManager.default.fileExists(atPath: job.checkpoint)))
            let start = Date()
            do {
                let names = run.options.names
                let spec = job.picture.weights
                // Inputs read and outputs checked before the device and the weights.
                var picture: (StylizeJob, StylizeRequest?, OutputGuard)?
                var video: (VideoJob, VideoJob.Prepared)?
                switch job.work {
                case .picture(let p):
                    let outputs = try p.guardFiles(run.inputs, names: names)
                    picture = (p, try p.prepare(randomWeights: spec.isRandom), outputs)
                case .video(let v): video = (v, try v.prepare(names: names, shouldStop: shouldStop))
                }
                if context == nil { context = try make(device) }
                try job.picture.settings.lossConfig().check(on: context!.device)
                if runs[spec] == nil {
                    let vgg = try locked { try weights[spec] ?? spec.load(progress: weightsProgress) }
                    locked { weights[spec] = vgg }
                    runs[spec] = Stylization(context: context!, weights: vgg, keepsWarm: true)
                }
                let stylization = runs[spec]!
                let losses: LossTerms?, iterations: Int, stopped: BatchEvent.Kind?
                if let (v, prepared) = video {
                    let outcome = try v.perform(prepared, on: stylization, randomWeights: spec.isRandom, key: key, shouldStop: shouldStop, names: names)
                    (losses, iterations) = (outcome.losses, outcome.frames)
                    stopped = outcome.interrupted ? .interrupted(iterations: nil, frames: outcome.frames) : nil
                } else {
                    let (p, request, outputs) = picture!
                    let result = try p.perform(request!, on: stylization, outputs: outputs,
                                               checkpoint: .init(path: job.checkpoint, key: key, every: p.output.checkpointEvery),
                                               writeInterrupted: false, shouldStop: shouldStop, names: names)
                    (losses, iterations) = (result.losses, result.iterations)
                    stopped = result.interrupted ? .interrupted(iterations: result.iterations, frames: nil) : nil
                }
                if let stopped {
                    locked { summary.interrupted = true }
                    record(n, job, key, stopped)
                    return
                }
                let seconds = Date().timeIntervalSince(start)
                let deviceName = "[\(device.index)] \(device.name)"
                guard let result = job.resultDigest() else { throw FileError("\(InputFile.display(job.output)) is missing or empty after the job") }
                let (c, s, t) = (Double(losses?.content ?? 0), Double(losses?.style ?? 0), Double(losses?.tv ?? 0))
                try job.writeMarker(BatchJob.Marker(key: key, result: result, content: c, style: s, tv: t, total: c + s + t,
                                                    iterations: iterations, seconds: seconds, device: deviceName))
                locked { summary.done += 1 }
                record(n, job, key, .done(.init(losses: losses, iterations: iterations, seconds: seconds, device: deviceName)))
            } catch is ToolInterrupted {
                locked { summary.interrupted = true }
                record(n, job, key, .interrupted(iterations: nil, frames: nil))
                return
            } catch {
                let message: String
                if let e = error as? SettingError { message = e.described(naming: run.options.names.name) } else { message = ErrorText.describe(error) }
                locked { summary.failed += 1 }
                record(n, job, key, .failed(error: ErrorText.oneLine(message)))
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
