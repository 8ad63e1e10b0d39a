import XCTest
@testable import Impasto

/// Hostile use of the job surfaces (batch, checkpoints, video and ffmpeg, flow), one test per
/// class of defect: no data loss, no crash, no injection, no hang, no partial or wrong output,
/// no lie, and every refusal one bounded, escaped line with a non-zero exit.
final class JobHardeningTests: XCTestCase {
    let golden = Golden.div8
    var tmp: URL!
    override func setUpWithError() throws { tmp = try temporaryDirectory() }
    func path(_ n: String) -> String { tmp.appendingPathComponent(n).path }
    var common: [String] { ["--size", "32x24", "--iterations", "2", "--weights", golden.weightsURL.path, "--quiet"] }

    /// Copies of the golden pictures in the temporary folder (so a test may try to overwrite them).
    func pictures() throws -> (content: String, style: String) {
        for name in ["content.png", "style.png"] where !FileManager.default.fileExists(atPath: path(name)) {
            try FileManager.default.copyItem(atPath: golden.dir.appendingPathComponent(name).path, toPath: path(name))
        }
        return (path("content.png"), path("style.png"))
    }

    func bytes(_ p: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: p)) }

    func manifest(_ lines: [[String: Any]], name: String = "jobs.jsonl", separator: String = "\n") throws -> String {
        let text = try lines.map { String(data: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), encoding: .utf8)! }
        try (text.joined(separator: separator) + separator).write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    func impasto(_ args: [String], environment: [String: String] = [:], directory: String? = nil,
                 timeout: TimeInterval = 300) throws -> (status: Int32, stdout: String, stderr: String) {
        guard let directory else { return try runProcess(try impastoBinary(), args, environment: environment, timeout: timeout) }
        // Relative names (a file called -clip.mp4 or pipe:0) need the folder as the working directory.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try impastoBinary())
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        let out = Pipe(), err = Pipe()
        (p.standardOutput, p.standardError, p.standardInput) = (out, err, FileHandle.nullDevice)
        try p.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, stdout, stderr)
    }

    func assertRefused(_ r: (status: Int32, stdout: String, stderr: String), _ needle: String, status: Int32? = nil,
                       file: StaticString = #filePath, line: UInt = #line) {
        if let status { XCTAssertEqual(r.status, status, r.stderr, file: file, line: line) }
        XCTAssertTrue((1..<128).contains(r.status), "exit \(r.status): \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(needle), "'\(needle)' in: \(r.stderr)", file: file, line: line)
    }

    /// Three frames of a moving photo, 40x30, in `name`.
    func frames(_ name: String = "frames") throws -> String {
        let dir = path(name)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let photo = try ImageFile.read(TestEnv.shared.appendingPathComponent("images/tubingen.jpg").path)
        for (i, f) in SyntheticMotion.clip(photo: photo, object: photo, width: 40, height: 30, count: 3).frames.enumerated() {
            try ImageFile.write(f, to: "\(dir)/shot_\(i + 1).png")
        }
        return dir
    }

    /// An H.264 clip of `frames()` named `name`, optionally with a display rotation.
    func clip(_ name: String, rotate: Int? = nil) throws -> String {
        let dir = try frames("clip-frames")
        let plain = path("plain-\(UUID().uuidString).mp4")
        let made = try runProcess(try ffmpeg(), ["-v", "error", "-framerate", "12", "-i", "\(dir)/shot_%d.png", "-c:v", "libx264",
                                                 "-pix_fmt", "yuv420p", plain])
        XCTAssertEqual(made.status, 0, made.stderr)
        let target = tmp.appendingPathComponent(name).path
        if let rotate {
            let r = try runProcess(try ffmpeg(), ["-v", "error", "-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=\(rotate)", "file:" + target])
            XCTAssertEqual(r.status, 0, r.stderr)
        } else {
            try FileManager.default.moveItem(atPath: plain, toPath: target)
        }
        return target
    }

    // MARK: 1. data loss

    /// One guard for the whole batch: no line's output, log, done marker or snapshot may be
    /// another line's input or the manifest; --status neither; two spellings of one output (a
    /// linked folder) are one output; a video's output folder may not be another line's frames.
    /// Every refusal before any work: every file as it was.
    func testBatchGuardsEveryOutputOfEveryLineAgainstEveryInput() throws {
        let (c, s) = try pictures()
        try FileManager.default.copyItem(atPath: c, toPath: path("other.png"))
        let before = try [c, s, path("other.png")].map(bytes)
        func refused(_ lines: [[String: Any]], _ needle: String, extra: [String] = [], line: UInt = #line) throws {
            let jobs = try manifest(lines)
            let manifestBytes = try bytes(jobs)
            let r = try impasto(["batch", jobs] + extra + common)
            assertRefused(r, needle, status: 65, line: line)
            XCTAssertEqual(try [c, s, path("other.png")].map(bytes), before, "an input changed", line: line)
            XCTAssertEqual(try bytes(jobs), manifestBytes, "the manifest changed", line: line)
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("o1.png")), "work was done", line: line)
        }
        let first: [String: Any] = ["content": c, "style": s, "output": path("o1.png")]
        try refused([first, ["content": path("other.png"), "style": s, "output": c]], "line 2: --output")
        try refused([first, ["content": path("other.png"), "style": s, "output": path("o2.png"), "log": s]], "is the input line 1: --style")
        try refused([first, ["content": path("other.png"), "style": s, "output": path("o2.png"), "log": path("jobs.jsonl")]],
                    "is the input the manifest")
        try refused([first, ["content": path("other.png"), "style": s, "output": path("other.done.png"), "checkpoint": path("o1.png")]],
                    "is also line 1: --output")
        // A snapshot name (o2-0002.png) that is another line's content.
        try FileManager.default.copyItem(atPath: c, toPath: path("o2-0002.png"))
        try refused([first, ["content": path("o2-0002.png"), "style": s, "output": path("o3.png")],
                     ["content": path("other.png"), "style": s, "output": path("o2.png"), "save-every": 2]], "is the input line 2: --content")
        // The status log is checked like any output.
        try refused([first], "--status", extra: ["--status", path("jobs.jsonl")])
        try refused([first], "--status", extra: ["--status", s])
        // One output spelled twice, through a linked folder.
        try FileManager.default.createSymbolicLink(atPath: path("link"), withDestinationPath: tmp.path)
        try refused([first, ["content": path("other.png"), "style": s, "output": path("link/o1.png")]], "is also line 1")
        // A video line's output folder is another line's frames.
        let a = try frames("clipA"), b = try frames("clipB")
        let frameBytes = try bytes(b + "/shot_1.png")
        try refused([["frames": a, "style": s, "output-dir": b], ["frames": b, "style": s, "output-dir": path("outB")]], "frames")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: b).sorted(), ["shot_1.png", "shot_2.png", "shot_3.png"])
        XCTAssertEqual(try bytes(b + "/shot_1.png"), frameBytes)
    }

    /// `video` checks every frame it may write against every input (not only frame 1), and
    /// never takes over or deletes a folder it did not make (--output's work folder), nor
    /// follows a link there.
    func testVideoNeverWritesOverAnInputNorTakesOverAFolder() throws {
        let (_, s) = try pictures()
        let input = try frames(), styleBytes = try bytes(s)
        let out = path("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try FileManager.default.linkItem(atPath: s, toPath: out + "/frame_000002.png")  // the style, kept among the results
        let r = try impasto(["video", "--frames", input, "--output-dir", out, "--style", s] + common)
        assertRefused(r, "is the input --style", status: 1)
        XCTAssertEqual(try bytes(s), styleBytes)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/frame_000001.png"), "no work before the check")

        // A folder named like the work folder, not made by impasto: refused, untouched.
        let work = path("movie.mp4.frames")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: work + "/notes.txt"))
        let taken = try impasto(["video", "--frames", input, "--output", path("movie.mp4"), "--style", s] + common)
        assertRefused(taken, "not a work folder impasto made", status: 1)
        XCTAssertEqual(try String(contentsOfFile: work + "/notes.txt", encoding: .utf8), "mine")
        // A link there: neither followed nor removed.
        try FileManager.default.createDirectory(atPath: path("elsewhere"), withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: path("elsewhere/keep.txt")))
        try FileManager.default.createSymbolicLink(atPath: path("film.mp4.frames"), withDestinationPath: path("elsewhere"))
        let linked = try impasto(["video", "--frames", input, "--output", path("film.mp4"), "--style", s] + common)
        assertRefused(linked, "symbolic link", status: 1)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("elsewhere")), ["keep.txt"])
        // A run of its own makes the folder, encodes, and removes only what it wrote.
        let ok = try impasto(["video", "--frames", input, "--output", path("own.mp4"), "--style", s, "--frame-iterations", "1"] + common)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("own.mp4")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("own.mp4.frames")))
    }

    // MARK: 2. crashes

    /// A damaged, foreign or hostile checkpoint is a one-line error, never a trap: sizes that
    /// overflow, out-of-range numbers, a wrong length (even a huge sparse file, not read whole),
    /// a flipped bit (the checksum), values that are not finite, an older version.
    func testDamagedCheckpointsAreRefusedNotTrusted() throws {
        let n = 3 * 4 * 3
        let good = StylizeCheckpoint(tag: "t", scale: 0, iteration: 3, step: 3, weights: .seed, width: 4, height: 3,
                                     x: (0..<n).map { Float($0) / 7 }, optimizer: .adam(m: .init(repeating: 0.5, count: n),
                                                                                         v: .init(repeating: 0.25, count: n), steps: 3))
        let file = tmp.appendingPathComponent("c.checkpoint")
        try good.write(to: file)
        let back = try StylizeCheckpoint.read(from: file)
        XCTAssertEqual(back.x, good.x)
        let original = try Data(contentsOf: file)
        func refused(_ data: Data, _ needle: String, line: UInt = #line) {
            XCTAssertNoThrow(try data.write(to: file), line: line)
            XCTAssertThrowsError(try StylizeCheckpoint.read(from: file), line: line) { e in
                XCTAssertTrue("\(e)".contains(needle), "\(e)", line: line)
                XCTAssertFalse("\(e)".contains("\n"), line: line)
            }
        }
        func header(_ edit: (inout String) -> Void) -> Data {
            let end = original.firstIndex(of: UInt8(ascii: "\n"), after: original.firstIndex(of: UInt8(ascii: "\n"))!)!
            var text = String(decoding: original[..<end], as: UTF8.self)
            edit(&text)
            return Data(text.utf8) + original[end...]
        }
        refused(header { $0 = $0.replacingOccurrences(of: "\"width\":4", with: "\"width\":4611686018427387904") }, "not an impasto checkpoint")
        refused(header { $0 = $0.replacingOccurrences(of: "\"scale\":0", with: "\"scale\":-1") }, "not an impasto checkpoint")
        refused(header { $0 = $0.replacingOccurrences(of: "\"adamSteps\":3", with: "\"adamSteps\":-1") }, "not an impasto checkpoint")
        refused(header { $0 = $0.replacingOccurrences(of: "10000", with: "3e38") }, "not an impasto checkpoint")
        refused(header { $0 = $0.replacingOccurrences(of: "\"iteration\":3", with: "\"iteration\":4") }, "checksum")
        var flipped = original
        flipped[flipped.count - 100] ^= 0x04
        refused(flipped, "checksum")
        refused(original.dropLast(5), "bytes, not the")
        refused(Data("impasto checkpoint 1\n{}".utf8), "not an impasto checkpoint")
        // Huge and sparse: refused by its size, not read.
        XCTAssertNoThrow(try original.write(to: file))
        XCTAssertEqual(truncate(file.path, 1 << 36), 0)
        let start = Date()
        XCTAssertThrowsError(try StylizeCheckpoint.read(from: file)) { XCTAssertTrue("\($0)".contains("bytes, not the"), "\($0)") }
        XCTAssertLessThan(Date().timeIntervalSince(start), 30, "a 64 GiB file must not be read whole")
        // Not finite, with a checksum that matches.
        let infinite = StylizeCheckpoint(tag: "t", scale: 0, iteration: 3, step: 3, weights: LossWeights(content: 1, style: 1, tv: 1), width: 4, height: 3,
                                         x: [Float](repeating: .infinity, count: n), optimizer: good.optimizer)
        try infinite.write(to: file)
        XCTAssertThrowsError(try StylizeCheckpoint.read(from: file)) { XCTAssertTrue("\($0)".contains("not finite"), "\($0)") }
    }

    /// Scheduler variables near Int.min, and --shards without an index: one line, exit 64.
    func testShardVariablesThatOverflowOrAreMissingAreRefused() throws {
        let (c, s) = try pictures()
        let jobs = try manifest([["content": c, "style": s, "output": path("o.png")]])
        let overflow = try impasto(["batch", jobs] + common, environment: ["SLURM_ARRAY_TASK_ID": "-9223372036854775808",
                                                                          "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "2"])
        assertRefused(overflow, "SLURM_ARRAY_TASK_ID", status: 64)
        let alone = try impasto(["batch", jobs, "--shards", "3"] + common)
        assertRefused(alone, "--shards 3 needs", status: 64)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("o.png")))
    }

    /// SIGTERM while ffprobe runs: the tool is ended (not left running), impasto exits 143
    /// with one line, and the folder it made is gone.
    func testASignalWhileFFprobeRunsEndsItCleanly() throws {
        let (_, s) = try pictures()
        let fake = path("fake-tools")
        try FileManager.default.createDirectory(atPath: fake, withIntermediateDirectories: true)
        for tool in ["ffprobe", "ffmpeg"] {
            try "#!/bin/sh\necho $$ > \(fake)/\(tool).pid\nexec sleep 60\n".write(toFile: "\(fake)/\(tool)", atomically: true, encoding: .utf8)
            chmod("\(fake)/\(tool)", 0o755)
        }
        try Data("not looked at".utf8).write(to: URL(fileURLWithPath: path("clip.mp4")))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try impastoBinary())
        p.arguments = ["video", "--input", path("clip.mp4"), "--output-dir", path("out"), "--style", s] + common
        p.environment = ProcessInfo.processInfo.environment.merging(["IMPASTO_FFMPEG_DIR": fake]) { $1 }
        let err = Pipe()
        (p.standardError, p.standardOutput) = (err, FileHandle.nullDevice)
        try p.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !FileManager.default.fileExists(atPath: "\(fake)/ffprobe.pid") { usleep(50_000) }
        usleep(200_000)
        let pid = pid_t(try String(contentsOfFile: "\(fake)/ffprobe.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        kill(p.processIdentifier, SIGTERM)
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 143, text)
        XCTAssertEqual(text.split(separator: "\n").count, 1, text)
        XCTAssertTrue(kill(pid, 0) != 0 && errno == ESRCH, "ffprobe (the fake's sleep) still runs")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out")), "the folder it made is removed")
    }

    // MARK: 3. injection, 5. wrong output

    /// Names that ffmpeg would read as an option or a protocol (-clip.mp4, pipe:0) are files;
    /// a portrait phone video (stored landscape with a 90° rotation) comes out upright, frame
    /// for frame what ffmpeg shows.
    func testFFmpegSeesFilesAndRotatedVideosComeOutUpright() throws {
        let (_, s) = try pictures()
        _ = try clip("-clip.mp4")
        _ = try clip("pipe:0")
        let dashed = try impasto(["video", "--input=-clip.mp4", "--output=-out.mp4", "--style", s, "--frame-iterations", "1"] + common,
                                 directory: tmp.path)
        XCTAssertEqual(dashed.status, 0, dashed.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("-out.mp4")))
        let piped = try impasto(["video", "--input", "pipe:0", "--output-dir", "piped", "--style", s, "--frame-iterations", "1"] + common,
                                directory: tmp.path)
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("piped")).filter { !$0.hasPrefix(".") }.count, 3)

        let rotated = try clip("rotated.mp4", rotate: 90)
        let reference = path("reference.png")
        let r = try runProcess(try ffmpeg(), ["-v", "error", "-i", rotated, "-frames:v", "1", reference])
        XCTAssertEqual(r.status, 0, r.stderr)
        let upright = try ImageFile.read(reference)
        XCTAssertEqual([upright.width, upright.height], [30, 40], "ffmpeg shows the video in portrait")
        let out = try impasto(["video", "--input", rotated, "--output-dir", path("rot"), "--style", s, "--max-size", "40",
                               "--first-frame-iterations", "0", "--frame-iterations", "0", "--weights", golden.weightsURL.path, "--quiet"])
        XCTAssertEqual(out.status, 0, out.stderr)
        let first = try ImageFile.read(path("rot/frame_000001.png"))
        XCTAssertEqual([first.width, first.height], [30, 40])
        let difference = zip(first.pixels, upright.pixels).map { abs($0 - $1) }.reduce(0, +) / Float(first.pixels.count)
        XCTAssertLessThan(difference, 0.02, "the frame is the upright picture, not a scrambled one")
    }

    /// `flow` writes all of its files or none: settings that give no finite flow are refused
    /// before any work, and a flow that is not finite writes nothing.
    func testFlowWritesAllOrNothing() throws {
        let (c, s) = try pictures()
        for alpha in ["1e-45", "3e38"] {
            let r = try impasto(["flow", c, s, "--output", path("f.flo"), "--backward", path("b.flo"), "--flow-alpha", alpha])
            assertRefused(r, "--flow-alpha", status: 64)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.contains(".flo") }, [])
        let ok = try impasto(["flow", c, s, "--output", path("f.flo"), "--backward", path("b.flo"), "--reliability", path("r.png"), "--size", "32x24"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.hasPrefix(".") }, [], "no temporary file left")
    }

    /// Temporary files that killed runs left beside an output are removed by the next run
    /// (their process gone, unwritten for an hour); a fresh one, which may be another machine's
    /// run in a shared folder, and other people's files stay.
    func testStaleTemporariesOfKilledRunsAreRemoved() throws {
        let (c, s) = try pictures()
        let old = path(".o.png.2147483000.tmp"), fresh = path(".o.png.2147483001.tmp"), other = path(".notes.2147483000.tmp")
        for f in [old, fresh, other] { try Data("x".utf8).write(to: URL(fileURLWithPath: f)) }
        for f in [old, other] {
            var times = [timeval(tv_sec: time(nil) - 7200, tv_usec: 0), timeval(tv_sec: time(nil) - 7200, tv_usec: 0)]
            XCTAssertEqual(utimes(f, &times), 0)
        }
        let r = try impasto(["stylize", "--content", c, "--style", s, "--output", path("o.png")] + common)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: old), "a killed run's temporary file is removed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: fresh))
        XCTAssertTrue(FileManager.default.fileExists(atPath: other))
    }

    // MARK: 4. hang

    /// --status naming a FIFO (no reader, or a reader) is refused at once, not waited on.
    func testStatusNamingAFIFOIsRefusedAtOnce() throws {
        let (c, s) = try pictures()
        let jobs = try manifest([["content": c, "style": s, "output": path("o.png")]])
        XCTAssertEqual(mkfifo(path("fifo"), 0o644), 0)
        let r = try impasto(["batch", jobs, "--status", path("fifo")] + common, timeout: 120)
        assertRefused(r, "--status")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("o.png")))
    }

    // MARK: 6. lies

    /// "Done" means done: a marker whose picture was emptied is redone; two batches on one
    /// manifest run each job once between them (claims); --devices that names nothing is an
    /// error, not an empty success.
    func testDoneMeansDoneAndEachJobRunsOnce() throws {
        let (c, s) = try pictures()
        let jobs = try manifest((0..<3).map { ["content": c, "style": s, "output": path("o\($0).png"), "init": "noise", "seed": $0] })
        let first = try impasto(["batch", jobs] + common)
        XCTAssertEqual(first.status, 0, first.stderr)
        let done = try bytes(path("o1.png"))
        XCTAssertEqual(truncate(path("o1.png"), 0), 0)
        let again = try impasto(["batch", jobs] + common)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("1 done, 2 skipped"), again.stderr)
        XCTAssertEqual(try bytes(path("o1.png")), done)

        // Two processes at once on a fresh manifest: every job done exactly once.
        let other = try manifest((0..<4).map { ["content": c, "style": s, "output": path("p\($0).png"), "init": "noise", "seed": $0] },
                                 name: "other.jsonl")
        let processes = try (0..<2).map { i -> Process in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: try impastoBinary())
            p.arguments = ["batch", other, "--status", path("status\(i).jsonl")] + common
            (p.standardError, p.standardOutput) = (FileHandle.nullDevice, FileHandle.nullDevice)
            try p.run()
            return p
        }
        for p in processes { p.waitUntilExit(); XCTAssertEqual(p.terminationStatus, 0) }
        let events = try (0..<2).flatMap { i in
            try String(contentsOfFile: path("status\(i).jsonl"), encoding: .utf8).split(separator: "\n").compactMap {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
        let doneOutputs = events.filter { $0["event"] as? String == "done" }.compactMap { $0["output"] as? String }.sorted()
        XCTAssertEqual(doneOutputs, (0..<4).map { path("p\($0).png") }, "each job done once between the two batches")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.hasSuffix(".lock") }, [], "claims released")

        assertRefused(try impasto(["batch", jobs, "--devices", ","] + common), "--devices", status: 64)
    }

    // MARK: 7. unclear errors

    /// CRLF manifests are JSON Lines; errors are one bounded line with control characters
    /// escaped and no framework codes; values ffmpeg would refuse after every frame are refused
    /// first; a video's errors name its own options; two outputs on one file are refused.
    func testErrorsAreOneBoundedEscapedLine() throws {
        let (c, s) = try pictures()
        let crlf = try manifest([["content": c, "style": s, "output": path("o.png")]], name: "crlf.jsonl", separator: "\r\n")
        let ok = try impasto(["batch", crlf] + common)
        XCTAssertEqual(ok.status, 0, ok.stderr)

        let huge = try impasto(["stylize", "--content", c, "--style", s, "--output", path("x.png"), "--size", String(repeating: "9", count: 100_000)])
        assertRefused(huge, "size '999", status: 64)
        XCTAssertLessThan(huge.stderr.count, 1000)
        XCTAssertEqual(huge.stderr.split(separator: "\n").count, 1)
        let escape = try impasto(["stylize", "--content", c, "--style", s, "--output", path("x.png"), "--size", "\u{1b}[31mred\nline"])
        XCTAssertEqual(escape.status, 64, escape.stderr)
        XCTAssertFalse(escape.stderr.contains("\u{1b}"), escape.stderr)
        XCTAssertEqual(escape.stderr.split(separator: "\n").count, 1, escape.stderr)

        let missing = try impasto(["batch", "--content-dir", path("nowhere"), "--output-dir", tmp.path, "--style", s] + common)
        assertRefused(missing, "no such file", status: 1)
        XCTAssertFalse(missing.stderr.contains("Domain"), missing.stderr)

        let same = try impasto(["stylize", "--content", c, "--style", s, "--output", path("y.png"), "--log", path("l"), "--checkpoint", path("l")] + common)
        assertRefused(same, "is also --checkpoint", status: 1)

        let input = try frames()
        assertRefused(try impasto(["video", "--frames", input, "--output", path("o.xyz"), "--style", s] + common), ".mp4", status: 64)
        assertRefused(try impasto(["video", "--frames", input, "--output", path("o.mp4"), "--frame-rate", "1e300", "--style", s] + common),
                      "--frame-rate", status: 64)
        assertRefused(try impasto(["video", "--frames", input, "--output-dir", path("v"), "--flow-dir", path("none"), "--style", s] + common),
                      "--flow-dir", status: 64)
        XCTAssertEqual(mkfifo(input + "/shot_0.png", 0o644), 0)
        let fifo = try impasto(["video", "--frames", input, "--output-dir", path("v"), "--style", s] + common)
        assertRefused(fifo, "--frames", status: 1)
        XCTAssertFalse(fifo.stderr.contains("--content"), fifo.stderr)
    }
}

private extension Data {
    func firstIndex(of byte: UInt8, after i: Int) -> Int? { self[(i + 1)...].firstIndex(of: byte) }
}
