import Foundation
import XCTest
import Impasto

/// The jobs' logic in-process, where it now lives (the library): keys, typed setting errors,
/// shards, frame order, the one frame loop's resume, the async API's cancellation, and a
/// batch's events. The command line's contract (arguments, exit codes, files, signals) is
/// tested through the binary elsewhere.
final class JobTests: XCTestCase {
    var ctx: CLContext { TestEnv.context }
    func image(_ name: String) -> String { TestEnv.shared.appendingPathComponent("images/\(name)").path }
    /// A small random net: fast, and enough to tell runs apart.
    static let net = try! VGGWeights.random(seed: 2, widthDivisor: 8)

    func job(_ output: String, content: String? = nil, configure: (inout StylizeSettings) -> Void = { _ in }) -> StylizeJob {
        var settings = StylizeSettings()
        settings.size = .init(width: 32, height: 24)
        configure(&settings)
        return StylizeJob(content: content ?? image("tubingen.jpg"), styles: [image("starry_night.jpg")], settings: settings,
                          weights: .random(seed: 3), output: PictureOutput(path: output))
    }

    /// The key hashes what the run does, not how it was asked for: the defaults spelled out,
    /// the same bytes under another path, what only reports left out.
    func testTheKeyHashesTheResolvedSettingsNotTheirSpelling() throws {
        let dir = try temporaryDirectory()
        let base = try job("/a.png").key()
        XCTAssertEqual(try job("/a.png") { $0.iterations = 500 }.key(), base, "the default iterations spelled out")
        XCTAssertEqual(try job("/a.png") { ($0.tvWeight, $0.lr, $0.styleLayerWeights) = (10, 0.3, [1, 1, 1, 1, 1]) }.key(), base)
        XCTAssertEqual(try job("/a.png") { $0.styleLayers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "conv5_1"] }.key(), base)
        XCTAssertEqual(try job("/a.png") { $0.seed = 9 }.key(), base, "a seed without noise paints nothing")
        var reporting = job(dir.appendingPathComponent("elsewhere.png").path)
        (reporting.output.log, reporting.output.saveEvery) = ("/tmp/log.jsonl", 10)
        XCTAssertEqual(try reporting.key(), base, "outputs and reports are not the work")
        let copy = dir.appendingPathComponent("copy.jpg").path
        try FileManager.default.copyItem(atPath: image("tubingen.jpg"), toPath: copy)
        XCTAssertEqual(try job("/a.png", content: copy).key(), base, "the content's bytes, not its path")

        XCTAssertNotEqual(try job("/a.png") { $0.iterations = 499 }.key(), base)
        XCTAssertNotEqual(try job("/a.png") { $0.scales = 2 }.key(), base)
        XCTAssertNotEqual(try job("/a.png") { $0.styleWeight = 1e4 }.key(), base, "an unset style weight is balanced with random weights")
        var other = job("/a.png")
        other.weights = .random(seed: 4)
        XCTAssertNotEqual(try other.key(), base)
        XCTAssertNotEqual(try job("/a.png", content: image("the_scream.jpg")).key(), base)
    }

    /// Every bad setting is a `SettingError` that names its field, before any work.
    func testSettingErrorsNameTheField() throws {
        func field(_ body: () throws -> Void) -> String? {
            do { try body() } catch let e as SettingError { return e.field } catch { return "not a SettingError: \(error)" }
            return nil
        }
        XCTAssertEqual(field { try job("/a.png") { $0.styleWeight = -1 }.validate() }, "styleWeight")
        XCTAssertEqual(field { try job("/a.png") { ($0.scales, $0.scaleIterations) = (2, [1]) }.validate() }, "scaleIterations")
        XCTAssertEqual(field { try job("/a.png") { $0.maxSize = 100 }.validate() }, "maxSize")
        XCTAssertEqual(field { try job("/a.png") { $0.styleLayers = ["relu9_9"] }.validate() }, "styleLayers")
        XCTAssertEqual(field { try job("/a.png") { $0.maxMemory = 1 << 20 }.validate() }, "maxMemory")
        XCTAssertEqual(field { try job("/a.png") { $0.size = .init(width: 8, height: 8) }.validate() }, "size")
        XCTAssertEqual(field { try job("/a.txt").validate() }, "output")
        var noStyle = job("/a.png")
        noStyle.styles = []
        XCTAssertEqual(field { try noStyle.validate() }, "styles")
        XCTAssertEqual(field { _ = try WeightsSpec(parsing: "random:x") }, "weights")
        XCTAssertEqual(try WeightsSpec(parsing: "random.pth"), .file("random.pth"), "only random and random:SEED are random weights")
        XCTAssertEqual(try WeightsSpec(parsing: "random"), .random(seed: 0))
        var video = VideoSettings()
        video.temporal.frames = [2, 4]
        XCTAssertEqual(field { try video.validate() }, "temporalFrames")
        XCTAssertEqual(field { _ = try VideoSettings.checkedRate("0/1") }, "frameRate")
        XCTAssertNil(field { try job("/a.png").validate() })
    }

    /// Shards: K/N, Slurm's array numbered from its minimum, Kubernetes' index with a count;
    /// the shards of a set of keys are disjoint and cover it.
    func testShardsPartitionTheKeys() throws {
        XCTAssertEqual(try BatchShard.resolve("1/3", shards: nil, environment: [:]), BatchShard(index: 1, count: 3))
        XCTAssertEqual(try BatchShard.resolve(nil, shards: nil, environment: ["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "2",
                                                                              "SLURM_ARRAY_TASK_COUNT": "4"]), BatchShard(index: 3, count: 4))
        XCTAssertEqual(try BatchShard.resolve(nil, shards: 2, environment: ["JOB_COMPLETION_INDEX": "1"]), BatchShard(index: 1, count: 2))
        XCTAssertEqual(try BatchShard.resolve(nil, shards: nil, environment: [:]), .all)
        XCTAssertThrowsError(try BatchShard.resolve(nil, shards: nil, environment: ["JOB_COMPLETION_INDEX": "1"])) {
            XCTAssertEqual(($0 as? SettingError)?.field, "shards")
        }
        XCTAssertThrowsError(try BatchShard.resolve("3/3", shards: nil, environment: [:])) { XCTAssertEqual(($0 as? SettingError)?.field, "shard") }
        var h = SHA256()
        let keys = (0..<60).map { i -> String in h.update(Data("\(i)".utf8)); return h.finalize() }
        let shards = (0..<3).map { k in keys.filter { BatchShard(index: k, count: 3).contains(key: $0) } }
        XCTAssertEqual(shards.map(\.count).reduce(0, +), keys.count, "every key in exactly one shard")
        XCTAssertEqual(Set(shards.flatMap { $0 }).count, keys.count)
        XCTAssertTrue(shards.allSatisfy { !$0.isEmpty })
    }

    func testFramesAreInTheOrderOfTheNumbersInTheirNames() {
        XCTAssertEqual(DirectoryFrames.ordered(["shot_10.png", "shot_9.png", "take2_shot_1.jpg"]), ["take2_shot_1.jpg", "shot_9.png", "shot_10.png"])
        XCTAssertEqual(DirectoryFrames.ordered(["b.png", "a.png"]), ["a.png", "b.png"])
    }

    /// The one frame loop, stopped in its third frame and run again on the same sink (a new
    /// loop, as a new process would be), ends with the frames of a run that never stopped.
    func testTheFrameLoopResumesAStoppedRunToTheSameFrames() throws {
        let run = Stylization(context: ctx, weights: Self.net, keepsWarm: true)
        let photo = try ImageFile.read(image("tubingen.jpg"))
        let clip = SyntheticMotion.clip(photo: photo, object: try ImageFile.read(image("the_scream.jpg")), width: 32, height: 24, count: 4)
        let style = try ImageFile.read(image("starry_night.jpg"))
        let base = { (f: RGBImage, _: Int) -> StylizeRequest in
            var r = StylizeRequest(content: f, styles: [style], sizes: [(32, 24)], iterations: [4])
            r.balance = [.content, .style]
            return r
        }
        func loop() throws -> VideoStylization {
            try VideoStylization(stylization: run, width: 32, height: 24, settings: TemporalSettings(), frameIterations: 3)
        }
        let plan = VideoStylization.Plan(base: base, key: "clip", passes: 2, passIterations: 2)
        let straight = MemoryFrameSink()
        let done = try loop().run(plan, source: MemoryFrames(clip.frames), sink: straight)
        XCTAssertEqual(done.frames, 4)
        XCTAssertEqual(straight.ordered.count, 4)

        let sink = MemoryFrameSink()
        var iterations = 0, events: [String] = []
        let stopped = try loop().run(plan, source: MemoryFrames(clip.frames), sink: sink, shouldStop: { iterations += 1; return iterations == 4 + 3 + 1 },
                                     events: { if case .interrupted(let f, _) = $0 { events.append("stopped in \(f)") } })
        XCTAssertTrue(stopped.interrupted)
        XCTAssertEqual(events, ["stopped in 2"])
        XCTAssertEqual(sink.state(key: "clip").done, 2)
        XCTAssertEqual(sink.state(key: "other").done, 0, "state of another key is not resumed")
        var resumedFrom: (Int, Int)?
        let resumed = try loop().run(plan, source: MemoryFrames(clip.frames), sink: sink,
                                     events: { if case .resuming(let p, let d) = $0 { resumedFrom = (p, d) } })
        XCTAssertFalse(resumed.interrupted)
        XCTAssertEqual(resumedFrom?.0, 1)
        XCTAssertEqual(resumedFrom?.1, 2)
        XCTAssertEqual(sink.ordered, straight.ordered, "the resumed run's frames are the straight run's")
    }

    /// `run(on:)` honours task cancellation: the run stops after its iteration, writes the
    /// picture so far and returns it marked interrupted.
    func testCancellingTheTaskStopsTheRunWithThePictureSoFar() async throws {
        let out = try temporaryDirectory().appendingPathComponent("cancelled.png").path
        let j = job(out) { $0.iterations = 100_000 }
        let box = TaskBox()
        let task = Task { try await j.run(on: ctx, weights: Self.net, events: { if case .iteration = $0 { box.cancel() } }) }
        box.set(task)
        let result = try await task.value
        XCTAssertTrue(result.interrupted)
        XCTAssertLessThan(result.iterations, 100_000)
        XCTAssertEqual(try ImageFile.read(out).width, 32, "the picture so far is written")
    }

    /// A batch in-process: each job's events in order, the marker written, and a rerun skips
    /// both jobs; a bad job is refused with its origin and field before any work.
    func testABatchReportsEachJobAndARerunSkipsWhatIsDone() throws {
        let dir = try temporaryDirectory()
        let jobs = (0..<2).map { i in
            BatchJob(origin: "job \(i)", work: .picture(job(dir.appendingPathComponent("o\(i).png").path) { $0.iterations = 2 + i }))
        }
        var options = BatchRun.Options()
        options.status = dir.appendingPathComponent("status.jsonl").path
        let devices = [ctx.device]
        var seen: [String] = []
        let record = { (e: BatchEvent) in
            switch e.kind {
            case .started: seen.append("\(e.origin) started")
            case .done(let d): seen.append("\(e.origin) done \(d.iterations)")
            case .skipped(let why): seen.append("\(e.origin) skipped \(why)")
            case .failed(let error): seen.append("\(e.origin) failed \(error)")
            case .interrupted: seen.append("\(e.origin) interrupted")
            }
        }
        let first = try BatchRun(jobs: jobs, options: options).run(devices: devices, context: { _ in self.ctx }, events: record)
        XCTAssertEqual(seen, ["job 0 started", "job 0 done 2", "job 1 started", "job 1 done 3"])
        XCTAssertTrue(first.finished)
        XCTAssertTrue(FileManager.default.fileExists(atPath: jobs[0].marker))
        seen = []
        let again = try BatchRun(jobs: jobs, options: options).run(devices: devices, context: { _ in self.ctx }, events: record)
        XCTAssertEqual(seen, ["job 0 skipped done", "job 1 skipped done"])
        XCTAssertEqual(again.skipped, 2)

        var bad = jobs[1]
        if case .picture(var p) = bad.work { p.settings.lrDecayGamma = -1; bad.work = .picture(p) }
        XCTAssertThrowsError(try BatchRun(jobs: [jobs[0], bad], options: options)) {
            XCTAssertEqual(($0 as? BatchProblems)?.lines, ["job 1: lrDecayGamma must be a positive number"])
        }
    }
}

/// The task a run's events cancel (set once it exists).
final class TaskBox: @unchecked Sendable {
    private let lock = NSLock()
    private var task: Task<StylizeResult, Error>?
    private var cancelled = false
    func set(_ t: Task<StylizeResult, Error>) {
        lock.lock(); defer { lock.unlock() }
        task = t
        if cancelled { t.cancel() }
    }
    func cancel() {
        lock.lock(); defer { lock.unlock() }
        cancelled = true
        task?.cancel()
    }
}
