import Foundation

/// What an `async` run reports as it goes: the `Sendable` face of `StylizeEvent` (no
/// pictures: a snapshot is the caller's to ask for through an observer), a video's frames,
/// a batch's jobs, and at last the result.
public enum RunEvent: Sendable {
    case iteration(Progress)
    /// One iteration done: `index` (from 0) of `total` over all scales, at this scale's size.
    public struct Progress: Sendable {
        public let index, total, scale, width, height: Int
        public let losses: LossTerms
        /// Seconds since the run began.
        public let elapsed: Double
        public var isLast: Bool { index + 1 == total }
    }
    /// A scale runs in this many tiles.
    case tiles(scale: Int, width: Int, height: Int, count: Int)
    case balanced(LossWeights)
    case resumed(iteration: Int)
    case frame(VideoStylization.Event)
    case job(BatchEvent)
    /// A picture's run ended (stopped or not); the stream finishes after it.
    case finished(StylizeResult)
    /// A video's run ended.
    case videoFinished(VideoStylization.Outcome)
    /// A batch ended.
    case batchFinished(BatchSummary)
}

/// A flag a cancelled task sets and a run asks between iterations.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

/// Blocking engine work on a thread of its own (never on the cooperative pool); the task's
/// cancellation sets the stop flag, so the run ends after its current iteration the way a
/// SIGTERM ends the command-line tool's: the picture so far is returned, a checkpoint written.
func runBlocking<T: Sendable>(_ body: @escaping @Sendable (StopFlag) throws -> T) async throws -> T {
    let stop = StopFlag()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
            let thread = Thread { c.resume(with: Result { try body(stop) }) }
            thread.stackSize = 8 << 20
            thread.start()
        }
    } onCancel: { stop.set() }
}

/// Turns a run's `StylizeEvent`s into `RunEvent`s for a caller.
final class EventForwarder: StylizeObserver {
    let send: @Sendable (RunEvent) -> Void
    var total = 0
    init(_ send: @escaping @Sendable (RunEvent) -> Void) { self.send = send }
    func observe(_ event: StylizeEvent) throws {
        switch event {
        case .iteration(let it):
            send(.iteration(.init(index: it.index, total: total, scale: it.scale, width: it.width, height: it.height, losses: it.losses, elapsed: it.elapsed)))
        case .tiles(let scale, let w, let h, let plan, _): send(.tiles(scale: scale, width: w, height: h, count: plan.tiles.count))
        case .balanced(let w): send(.balanced(w))
        case .resumed(let i): send(.resumed(iteration: i))
        case .started, .model: break
        }
    }
}

/// A device context shared with a run's thread (the engine uses it from one thread at a time).
struct SharedContext: @unchecked Sendable { let context: CLContext }

extension StylizeJob {
    /// Runs the job on `context`: checks and inputs first (typed errors: `SettingError` names
    /// the field), then the weights (`weights` if given, else `self.weights` loaded), the run
    /// and the picture written. Cancelling the task stops the run after its current
    /// iteration: the picture so far is written (and checkpointed, when `output` keeps a
    /// checkpoint) and returned with `interrupted` set. `events` sees each iteration.
    public func run(on context: CLContext, weights loaded: VGGWeights? = nil,
                    events: (@Sendable (RunEvent) -> Void)? = nil) async throws -> StylizeResult {
        let shared = SharedContext(context: context), job = self
        let vgg = loaded.map { SharedContext.Weights(weights: $0) }
        return try await runBlocking { stop in
            try job.validate()
            let outputs = try job.guardFiles()
            let request = try job.prepare(randomWeights: job.weights.isRandom)
            try request.loss.check(on: shared.context.device)
            let weights = try vgg?.weights ?? job.weights.load()
            let forward = events.map(EventForwarder.init)
            forward?.total = request.totalIterations
            let run = Stylization(context: shared.context, weights: weights, releaseWeights: true)
            let result = try job.perform(request, on: run, outputs: outputs, checkpoint: try job.checkpointing(),
                                         observers: forward.map { [$0] } ?? [], shouldStop: { stop.isSet })
            events?(.finished(result))
            return result
        }
    }

    /// The run's events as a stream that ends with `.finished`; cancelling the task that
    /// iterates it stops the run as `run(on:)` does.
    public func events(on context: CLContext, weights: VGGWeights? = nil) -> AsyncThrowingStream<RunEvent, Error> {
        stream { send in _ = try await self.run(on: context, weights: weights, events: send) }
    }
}

extension VideoJob {
    /// Runs the video on `context` through the one frame loop; cancelling the task stops it in
    /// its current frame, whose checkpoint a later run resumes from.
    public func run(on context: CLContext, weights loaded: VGGWeights? = nil,
                    events: (@Sendable (RunEvent) -> Void)? = nil) async throws -> VideoStylization.Outcome {
        let shared = SharedContext(context: context), job = self
        let vgg = loaded.map { SharedContext.Weights(weights: $0) }
        return try await runBlocking { stop in
            try job.validate()
            let prepared = try job.prepare(shouldStop: { stop.isSet })
            try job.picture.settings.lossConfig().check(on: shared.context.device)
            let weights = try vgg?.weights ?? job.picture.weights.load()
            let stylization = Stylization(context: shared.context, weights: weights, keepsWarm: true)
            let forward = events.map(EventForwarder.init)
            let outcome = try job.perform(prepared, on: stylization, randomWeights: job.picture.weights.isRandom, key: try job.key(),
                                          observers: forward.map { [$0] } ?? [], shouldStop: { stop.isSet },
                                          events: { e in
                                              if case .frameStarted(_, _, _, let n, _) = e { forward?.total = n }
                                              events?(.frame(e))
                                          })
            events?(.videoFinished(outcome))
            return outcome
        }
    }

    public func events(on context: CLContext, weights: VGGWeights? = nil) -> AsyncThrowingStream<RunEvent, Error> {
        stream { send in _ = try await self.run(on: context, weights: weights, events: send) }
    }
}

extension BatchRun {
    /// Runs this shard's jobs, a worker per device (each context tuned, `CLContext.tune`);
    /// cancelling the task stops the running jobs after their current iteration
    /// (checkpointed) and starts no other.
    public func run(devices: [Device], events: (@Sendable (RunEvent) -> Void)? = nil) async throws -> BatchSummary {
        let batch = SharedBatch(run: self)
        return try await runBlocking { stop in
            let summary = batch.run.run(devices: devices, context: { d in let c = try CLContext(device: d); try c.tune(); return c }, shouldStop: { stop.isSet },
                                        events: { events?(.job($0)) })
            events?(.batchFinished(summary))
            return summary
        }
    }

    public func events(devices: [Device]) -> AsyncThrowingStream<RunEvent, Error> {
        stream { send in _ = try await self.run(devices: devices, events: send) }
    }
}

struct SharedBatch: @unchecked Sendable { let run: BatchRun }

extension SharedContext {
    /// Loaded weights handed to a run's thread (read only there).
    struct Weights: @unchecked Sendable { let weights: VGGWeights }
}

/// A stream fed by `body`'s events, finished when it returns or throws; the stream's
/// termination (the consumer cancelled or went away) cancels the run.
func stream(_ body: @escaping @Sendable (@escaping @Sendable (RunEvent) -> Void) async throws -> Void) -> AsyncThrowingStream<RunEvent, Error> {
    AsyncThrowingStream { continuation in
        let task = Task {
            do {
                try await body { continuation.yield($0) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
    }
}
