import XCTest
@testable import Impasto

/// `impasto batch`: jobs from a manifest or a folder on one warm process, the same pictures
/// as `stylize`, markers that make reruns skip finished jobs, bad lines refused before any
/// work, failures isolated, shards disjoint and complete.
final class BatchTests: XCTestCase {
    let golden = Golden.div8
    var tmp: URL!
    override func setUpWithError() throws { tmp = try temporaryDirectory() }
    func path(_ n: String) -> String { tmp.appendingPathComponent(n).path }
    var content: String { golden.dir.appendingPathComponent("content.png").path }
    var style: String { golden.dir.appendingPathComponent("style.png").path }
    var scream: String { TestEnv.shared.appendingPathComponent("images/the_scream.jpg").path }
    /// The golden net (VGG19 at an eighth of the widths): loads in no time, unlike 548 MB of random weights.
    var common: [String] { ["--size", "64x48", "--iterations", "3", "--weights", golden.weightsURL.path, "--quiet"] }

    func manifest(_ lines: [[String: Any]], name: String = "jobs.jsonl") throws -> String {
        let text = try lines.map { String(data: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), encoding: .utf8)! }
        try (text.joined(separator: "\n") + "\n").write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    func batch(_ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProcess(try impastoBinary(), ["batch"] + args, environment: environment)
    }

    func statusLines(_ file: String) throws -> [[String: Any]] {
        try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// Three jobs (two sharing size and style, so the second reuses the first's model and
    /// style targets): each output is byte for byte what `impasto stylize` writes for the same
    /// options; markers and status lines record them; a rerun skips them all; a changed option
    /// or a removed output is done again.
    func testJobsMatchStylizeAndRerunsSkipWhatIsDone() throws {
        let jobs = try manifest([
            ["content": content, "style": style, "output": path("a.png")],
            ["content": content, "style": [style, scream], "style-blend": [3, 1], "output": path("b.png"), "iterations": 2],
            ["content": content, "style": style, "output": path("c.png"), "init": "noise", "seed": 4],
        ])
        let r = try batch([jobs, "--status", path("status.jsonl")] + common)
        XCTAssertEqual(r.status, 0, r.stderr)
        for (out, extra) in [("a", [String]()), ("b", ["--style", scream, "--style-blend", "3,1", "--iterations", "2"]),
                             ("c", ["--init", "noise", "--seed", "4"])] {
            let single = try runProcess(try impastoBinary(), ["stylize", "--content", content, "--style", style,
                                                              "--output", path("\(out)-single.png")] + common + extra)
            XCTAssertEqual(single.status, 0, single.stderr)
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("\(out).png"))),
                           try Data(contentsOf: URL(fileURLWithPath: path("\(out)-single.png"))), "\(out): batch and stylize differ")
            let marker = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("\(out).png.done.json")))) as? [String: Any])
            XCTAssertEqual((marker["key"] as? String)?.count, 64)
            XCTAssertGreaterThan(marker["total"] as? Double ?? 0, 0)
        }
        var events = try statusLines(path("status.jsonl")).map { $0["event"] as! String }
        XCTAssertEqual(events, ["started", "done", "started", "done", "started", "done"])

        let again = try batch([jobs, "--status", path("status.jsonl")] + common)
        XCTAssertEqual(again.status, 0, again.stderr)
        events = try statusLines(path("status.jsonl")).map { $0["event"] as! String }
        XCTAssertEqual(Array(events.suffix(3)), ["skipped", "skipped", "skipped"])

        // Other options change the key; a missing output is made again.
        try FileManager.default.removeItem(atPath: path("a.png"))
        let changed = try batch([jobs, "--status", path("status.jsonl")] + common.map { $0 == "3" ? "4" : $0 })
        XCTAssertEqual(changed.status, 0, changed.stderr)
        events = try statusLines(path("status.jsonl")).map { $0["event"] as! String }
        XCTAssertEqual(Array(events.suffix(5)), ["started", "done", "skipped", "started", "done"], "b sets its own iterations")
    }

    /// Bad lines are all refused, each with its line number, before any work: no output, no status.
    func testBadLinesAreRefusedBeforeAnyWork() throws {
        let lines = [
            "{\"content\": \"\(content)\", \"style\": \"\(style)\", \"output\": \"\(path("ok.png"))\"}",
            "{\"content\": \"\(path("missing.png"))\", \"style\": \"\(style)\", \"output\": \"\(path("x.png"))\"}",
            "{\"content\": 3",
            "{\"contnt\": \"\(content)\", \"output\": \"\(path("y.png"))\"}",
            "{\"content\": \"\(content)\", \"style\": \"\(style)\", \"output\": \"\(path("ok.png"))\"}",
            "{\"content\": \"\(content)\", \"style\": \"\(style)\", \"output\": \"\(path("z.png"))\", \"iterations\": -2}",
        ]
        try lines.joined(separator: "\n").write(toFile: path("bad.jsonl"), atomically: true, encoding: .utf8)
        let r = try batch([path("bad.jsonl"), "--status", path("status.jsonl")] + common)
        XCTAssertEqual(r.status, 65)
        let errors = r.stderr.split(separator: "\n").map(String.init)
        XCTAssertEqual(errors.count, 5, r.stderr)
        for (line, word) in [(2, "no such file"), (3, "JSON"), (4, "contnt"), (5, "also line 1"), (6, "--iterations")] {
            XCTAssertTrue(errors.contains { $0.hasPrefix("impasto: batch: line \(line): ") && $0.contains(word) }, "line \(line): \(r.stderr)")
        }
        for f in ["ok.png", "status.jsonl"] { XCTAssertFalse(FileManager.default.fileExists(atPath: path(f)), f) }
    }

    /// A picture that cannot be read fails its job only: the others are done, the status says
    /// which failed and why, the exit status is 1; a rerun leaves the failed job unless
    /// --retry-failed. The short form takes every picture of a folder.
    func testAFailingJobIsIsolatedAndContentDirTakesAFolder() throws {
        let dir = path("photos")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: content, toPath: dir + "/one.png")
        try FileManager.default.copyItem(atPath: style, toPath: dir + "/two.png")
        try Data("not a picture".utf8).write(to: URL(fileURLWithPath: dir + "/broken.jpg"))
        try FileManager.default.createDirectory(atPath: path("out"), withIntermediateDirectories: true)
        let args = ["--content-dir", dir, "--output-dir", path("out"), "--style", scream, "--status", path("status.jsonl")] + common
        let r = try batch(args)
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("1 failed"), r.stderr)
        for f in ["one.png", "two.png"] { XCTAssertTrue(FileManager.default.fileExists(atPath: path("out/" + f)), f) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out/broken.png")))
        let failed = try statusLines(path("status.jsonl")).filter { $0["event"] as? String == "failed" }
        XCTAssertEqual(failed.map { $0["job"] as? String }, ["broken.jpg"])
        XCTAssertTrue((failed.first?["error"] as? String ?? "").contains("broken.jpg"), "\(failed)")

        // A rerun leaves the failed job, and says so: the batch is not done, exit 1.
        let rerun = try batch(args)
        XCTAssertEqual(rerun.status, 1, rerun.stderr)
        XCTAssertTrue(rerun.stderr.contains("0 done, 2 skipped, 0 failed, 1 failed before and not retried"), rerun.stderr)
        let retry = try batch(args + ["--retry-failed"])
        XCTAssertEqual(retry.status, 1, retry.stderr)
        XCTAssertTrue(retry.stderr.contains("0 done, 2 skipped, 1 failed"), retry.stderr)
    }

    /// Shards from --shard, Slurm's array variables and an Indexed Job's index: each job is
    /// done by exactly one shard, and together they do every job.
    func testShardsAreDisjointAndComplete() throws {
        let jobs = try manifest((0..<5).map { ["content": content, "style": style, "output": path("s\($0).png"), "seed": $0, "init": "noise"] })
        var doneBy: [String: [String]] = [:]
        let runs: [(String, [String], [String: String])] = [
            ("--shard 0/3", ["--shard", "0/3"], [:]),
            ("slurm 1", [], ["SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "3"]),
            ("indexed 2", ["--shards", "3"], ["JOB_COMPLETION_INDEX": "2"]),
        ]
        for (name, extra, env) in runs {
            let status = path("status-\(doneBy.count).jsonl")
            let r = try batch([jobs, "--status", status] + extra + common, environment: env)
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            let done = (try? statusLines(status))?.filter { $0["event"] as? String == "done" }.compactMap { $0["job"] as? String } ?? []
            for job in done { doneBy[job, default: []].append(name) }
        }
        XCTAssertEqual(doneBy.keys.sorted(), (1...5).map { "line \($0)" }, "every job done")
        XCTAssertTrue(doneBy.values.allSatisfy { $0.count == 1 }, "each job by one shard: \(doneBy)")
        let bad = try batch([jobs, "--shard", "3/3"] + common)
        XCTAssertEqual(bad.status, 64, bad.stderr)
    }

    /// --devices all with POCL exposing two devices: one worker per device on one queue; every
    /// job done once, both devices used, the pictures those of one device (both are the same
    /// CPU, so the same bits).
    func testTwoDevicesShareTheQueue() throws {
        let jobs = try manifest((0..<4).map { ["content": content, "style": style, "output": path("d\($0).png"), "seed": $0, "init": "noise"] })
        let env = ["OCL_ICD_VENDORS": "/etc/OpenCL/vendors", "POCL_DEVICES": "pthread pthread", "IMPASTO_DEVICE": ""]
        let devices = try runProcess(try impastoBinary(), ["devices"], environment: env)
        XCTAssertEqual(devices.stdout.split(separator: "\n").filter { $0.hasPrefix("[") }.count, 2, devices.stdout + devices.stderr)
        let r = try batch([jobs, "--devices", "all", "--status", path("status.jsonl")] + common, environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("on 2 devices"), r.stderr)
        let done = try statusLines(path("status.jsonl")).filter { $0["event"] as? String == "done" }
        XCTAssertEqual(done.compactMap { $0["job"] as? String }.sorted(), (1...4).map { "line \($0)" })
        XCTAssertEqual(Set(done.compactMap { ($0["device"] as? String)?.prefix(3) }), ["[0]", "[1]"], "both devices took jobs")
        let single = try batch([try manifest([["content": content, "style": style, "output": path("one.png"), "seed": 2, "init": "noise"]],
                                             name: "one.jsonl")] + common, environment: env)
        XCTAssertEqual(single.status, 0, single.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("d2.png"))), try Data(contentsOf: URL(fileURLWithPath: path("one.png"))))
    }

    /// SIGTERM in the middle of a job (as `scancel` sends): the job stops after its iteration,
    /// writes its checkpoint and no picture; the rerun resumes it and writes exactly the bytes
    /// of an uninterrupted run. `stylize --checkpoint` does the same for one picture.
    func testAnInterruptedJobResumesToTheSameBytes() throws {
        let log = path("job.jsonl")
        let jobs = try manifest([["content": content, "style": style, "output": path("long.png"), "log": log, "iterations": 30]])
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try impastoBinary())
        p.arguments = ["batch", jobs, "--status", path("status.jsonl")] + common.filter { $0 != "3" && $0 != "--iterations" }
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, ((try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").count ?? 0) < 5 { usleep(20_000) }
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 143)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("long.png")), "no picture of an interrupted job")
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("long.png.checkpoint")))
        let stopped = try XCTUnwrap(try statusLines(path("status.jsonl")).last { $0["event"] as? String == "interrupted" })
        XCTAssertLessThan(stopped["iterations"] as? Int ?? 30, 30)

        let rerun = try batch([jobs, "--status", path("status.jsonl")] + common.filter { $0 != "3" && $0 != "--iterations" })
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertTrue(rerun.stderr.contains("started, from its checkpoint"), rerun.stderr)
        let restarted = try XCTUnwrap(try statusLines(path("status.jsonl")).last { $0["event"] as? String == "started" })
        XCTAssertEqual(restarted["checkpoint"] as? String, path("long.png.checkpoint"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("long.png.checkpoint")), "removed when done")
        let single = try runProcess(try impastoBinary(), ["stylize", "--content", content, "--style", style, "--output", path("single.png"),
                                                          "--iterations", "30"] + common.filter { $0 != "3" && $0 != "--iterations" })
        XCTAssertEqual(single.status, 0, single.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("long.png"))), try Data(contentsOf: URL(fileURLWithPath: path("single.png"))))

        // stylize --checkpoint: stopped, then resumed to the same bytes.
        let stylizeLog = path("stylize.jsonl")
        let args = ["stylize", "--content", content, "--style", style, "--output", path("resumed.png"), "--iterations", "30",
                    "--checkpoint", path("one.checkpoint"), "--log", stylizeLog] + common.filter { $0 != "3" && $0 != "--iterations" }
        let q = Process()
        q.executableURL = URL(fileURLWithPath: try impastoBinary())
        q.arguments = args
        try q.run()
        while Date() < deadline, ((try? String(contentsOfFile: stylizeLog, encoding: .utf8))?.split(separator: "\n").count ?? 0) < 5 { usleep(20_000) }
        kill(q.processIdentifier, SIGINT)
        q.waitUntilExit()
        XCTAssertEqual(q.terminationStatus, 130)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("one.checkpoint")))
        let resumed = try runProcess(try impastoBinary(), args)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("resumed.png"))), try Data(contentsOf: URL(fileURLWithPath: path("single.png"))))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("one.checkpoint")))
    }
}
