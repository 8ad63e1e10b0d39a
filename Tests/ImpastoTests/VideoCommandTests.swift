import XCTest
@testable import Impasto

/// `impasto video` and `impasto flow` as a user runs them: frames in and out, video files
/// through Debian's ffmpeg, a stopped run resuming to the same frames, clear errors.
final class VideoCommandTests: XCTestCase {
    let golden = Golden.div8
    var tmp: URL!
    override func setUpWithError() throws { tmp = try temporaryDirectory() }
    func path(_ n: String) -> String { tmp.appendingPathComponent(n).path }
    var style: String { TestEnv.shared.appendingPathComponent("images/starry_night.jpg").path }
    var common: [String] { ["--style", style, "--size", "32x24", "--weights", golden.weightsURL.path, "--quiet"] }

    func impasto(_ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProcess(try impastoBinary(), args, environment: environment)
    }

    /// Five frames of a synthetic clip, numbered 8…12 (so that name order is not number order).
    func frames() throws -> String {
        let dir = path("frames")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let photo = try ImageFile.read(TestEnv.shared.appendingPathComponent("images/tubingen.jpg").path)
        let clip = SyntheticMotion.clip(photo: photo, object: photo, width: 40, height: 30, count: 5)
        for (i, f) in clip.frames.enumerated() { try ImageFile.write(f, to: "\(dir)/shot_\(i + 8).png") }
        return dir
    }

    func bytes(_ p: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: p)) }
    func outputs(_ dir: String) throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }.sorted() }

    /// Frames to frames in number order, the inputs untouched; a rerun does nothing; a run
    /// stopped by SIGTERM in the third frame resumes there and ends with the same frames as a
    /// run that never stopped.
    func testFramesInFramesOutAndAStoppedRunResumesToTheSameFrames() throws {
        let input = try frames()
        let before = try FileManager.default.contentsOfDirectory(atPath: input).sorted().map { try bytes("\(input)/\($0)") }
        let args = ["video", "--frames", input, "--first-frame-iterations", "6", "--frame-iterations", "12"] + common
        let straight = try impasto(args + ["--output-dir", path("straight")])
        XCTAssertEqual(straight.status, 0, straight.stderr)
        XCTAssertEqual(try outputs(path("straight")), (1...5).map { String(format: "frame_%06d.png", $0) })
        let first = try ImageFile.read(path("straight/frame_000001.png"))
        XCTAssertEqual([first.width, first.height], [32, 24])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: input).sorted().map { try bytes("\(input)/\($0)") }, before,
                       "the input frames are unchanged")
        // Number order: frame 1 is shot_8, not shot_10 (a one-frame run of each says which).
        let only8 = try impasto(["video", "--frames", input, "--frame-count", "1", "--first-frame-iterations", "6", "--output-dir", path("one")] + common)
        XCTAssertEqual(only8.status, 0, only8.stderr)
        XCTAssertEqual(try bytes(path("one/frame_000001.png")), try bytes(path("straight/frame_000001.png")))

        let stamp = try FileManager.default.attributesOfItem(atPath: path("straight/frame_000005.png"))[.modificationDate] as? Date
        let again = try impasto(args + ["--output-dir", path("straight")])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path("straight/frame_000005.png"))[.modificationDate] as? Date, stamp,
                       "a finished video is not done again")

        // Stopped in frame 3, then resumed.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try impastoBinary())
        p.arguments = args + ["--output-dir", path("stopped"), "--checkpoint-every", "4"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, !FileManager.default.fileExists(atPath: path("stopped/.frame_000003.checkpoint")) { usleep(10_000) }
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 143)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("stopped/frame_000003.png")), "no picture of the frame it stopped in")
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("stopped/.frame_000003.checkpoint")))
        let resumed = try impasto(args + ["--output-dir", path("stopped"), "--checkpoint-every", "4"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        for i in 1...5 {
            let name = String(format: "frame_%06d.png", i)
            XCTAssertEqual(try bytes(path("stopped/\(name)")), try bytes(path("straight/\(name)")), "\(name) after the resume")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("stopped/.frame_000003.checkpoint")), "removed when done")
    }

    /// A video file in and out through ffmpeg: as many frames out as in, the work folder gone.
    func testVideoFilesGoThroughFFmpeg() throws {
        let ffmpeg = try ffmpeg()
        let input = try frames()
        let clip = path("clip.mp4")
        let made = try runProcess(ffmpeg, ["-v", "error", "-framerate", "12", "-start_number", "8", "-i", "\(input)/shot_%d.png",
                                           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", clip])
        XCTAssertEqual(made.status, 0, made.stderr)
        let r = try impasto(["video", "--input", clip, "--output", path("out.mp4"), "--first-frame-iterations", "4", "--frame-iterations", "2"] + common)
        XCTAssertEqual(r.status, 0, r.stderr)
        let probe = try runProcess(URL(fileURLWithPath: ffmpeg).deletingLastPathComponent().appendingPathComponent("ffprobe").path,
                                   ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                                    "stream=width,height,nb_read_frames,avg_frame_rate", "-of", "csv=p=0", path("out.mp4")])
        XCTAssertEqual(probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "32,24,12/1,5")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.mp4.frames")), "the work folder is removed")
        XCTAssertEqual(try outputs(tmp.path).filter { $0.hasSuffix(".tmp.mp4") }, [])
    }

    /// `--style-mask` as a folder: frame k takes its kth mask. A folder of copies of one mask
    /// paints the frames of that static mask; a folder whose second mask differs keeps the
    /// first frame and changes the second; a folder with too few masks stops with one line.
    func testStyleMaskFoldersGiveEachFrameItsMask() throws {
        let input = try frames()
        let left = RGBImage(width: 2, height: 1, pixels: [1, 1, 1, 0, 0, 0]), right = RGBImage(width: 2, height: 1, pixels: [0, 0, 0, 1, 1, 1])
        try ImageFile.write(left, to: path("left.png"))
        for (folder, masks) in [("same", [left, left, left]), ("mixed", [left, right, left]), ("short", [left, left])] {
            try FileManager.default.createDirectory(atPath: path(folder), withIntermediateDirectories: true)
            for (i, m) in masks.enumerated() { try ImageFile.write(m, to: path("\(folder)/m\(i).png")) }
        }
        func run(_ mask: String, _ out: String) throws -> (status: Int32, stdout: String, stderr: String) {
            try impasto(["video", "--frames", input, "--frame-count", "3", "--first-frame-iterations", "4", "--frame-iterations", "3",
                         "--output-dir", path(out), "--style-mask", mask] + common)
        }
        for (mask, out) in [(path("left.png"), "static"), (path("same"), "same"), (path("mixed"), "mixed")] {
            let r = try run(mask, out)
            XCTAssertEqual(r.status, 0, "\(out): \(r.stderr)")
        }
        let frame = { (dir: String, i: Int) in try self.bytes(self.path("\(dir)/frame_\(String(format: "%06d", i)).png")) }
        for i in 1...3 { XCTAssertEqual(try frame("same", i), try frame("static", i), "frame \(i): a folder of one mask is that mask") }
        XCTAssertEqual(try frame("mixed", 1), try frame("static", 1), "the first frame has the same mask")
        XCTAssertNotEqual(try frame("mixed", 2), try frame("static", 2), "the second frame has its own")
        let short = try run(path("short"), "short")
        XCTAssertNotEqual(short.status, 0)
        XCTAssertTrue(short.stderr.contains("holds 2 masks, none for frame 3"), short.stderr)
        XCTAssertEqual(short.stderr.split(separator: "\n").count, 1, short.stderr)
    }

    /// Bad input: one line, a non-zero exit, nothing written.
    func testBadInputIsOneLineAndWritesNothing() throws {
        let input = try frames()
        func refused(_ args: [String], _ status: Int32, _ text: String, environment: [String: String] = [:], line: UInt = #line) throws {
            let r = try impasto(args, environment: environment)
            XCTAssertEqual(r.status, status, r.stderr, line: line)
            XCTAssertTrue(r.stderr.contains(text), r.stderr, line: line)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr, line: line)
        }
        try refused(["video", "--frames", input, "--input", "x.mp4", "--output-dir", path("o")] + common, 64, "one of them")
        try refused(["video", "--frames", input] + common, 64, "--output-dir")
        try refused(["video", "--frames", input, "--output-dir", path("o"), "--temporal-frames", "2,0"] + common, 64, "--temporal-frames")
        try refused(["video", "--frames", input, "--output-dir", path("o"), "--content", style] + common, 64, "Unknown option '--content'")
        try refused(["video", "--frames", input, "--output-dir", path("o"), "--size", "3x3"] + common.filter { $0 != "32x24" && $0 != "--size" }, 64, "too small")
        try FileManager.default.createDirectory(atPath: path("empty"), withIntermediateDirectories: true)
        try refused(["video", "--frames", path("empty"), "--output-dir", path("o")] + common, 1, "no PNG or JPEG pictures")
        try Data("not a video".utf8).write(to: URL(fileURLWithPath: path("fake.mp4")))
        try refused(["video", "--input", path("fake.mp4"), "--output", path("o.mp4")] + common, 1, "(ffmpeg), which is not installed",
                    environment: ["PATH": path("no-such-folder")])
        try refused(["video", "--input", path("fake.mp4"), "--output-dir", path("o2")] + common, 1, "fake.mp4")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("o")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("o.mp4")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("o2")), "the folder it made is removed again")
    }

    /// `impasto flow` writes .flo files a reader gets back, and the reliability picture.
    func testFlowCommandWritesFloFiles() throws {
        let input = try frames()
        let r = try impasto(["flow", "\(input)/shot_8.png", "\(input)/shot_9.png", "--output", path("f.flo"),
                             "--backward", path("b.flo"), "--reliability", path("r.png"), "--size", "48x36"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let f = try FlowField.read(flo: path("f.flo")), b = try FlowField.read(flo: path("b.flo"))
        XCTAssertEqual([f.width, f.height, b.width, b.height], [48, 36, 48, 36])
        // The clip pans right and down: the background moves left and up from frame to frame.
        let median = f.values.prefix(48 * 36).sorted()[48 * 18]
        XCTAssertLessThan(median, -0.2)
        XCTAssertGreaterThan(b.values.prefix(48 * 36).sorted()[48 * 18], 0.2)
        let reliability = try ImageFile.read(path("r.png"))
        XCTAssertGreaterThan(reliability.pixels.filter { $0 == 1 }.count, reliability.pixels.count / 2)
        let bad = try impasto(["flow", "\(input)/shot_8.png", "\(input)/shot_9.png", "--output", path("f.png")])
        XCTAssertEqual(bad.status, 64, bad.stderr)
    }
}

extension VideoCommandTests {
    /// A batch's job may be a video (a line with "frames"): two clips (their first 3 frames)
    /// over two shards, each done once, with the frames `impasto video` writes; the rerun skips both.
    func testBatchRunsVideoJobsShardedByClip() throws {
        let input = try frames()
        let args = ["--first-frame-iterations", "3", "--frame-iterations", "2", "--frame-count", "3"] + common
        let lines = [["frames": input, "output-dir": path("clipA")], ["frames": input, "output-dir": path("clipB"), "temporal-weight": 300]]
        let text = try lines.map { String(data: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), encoding: .utf8)! }
        try (text.joined(separator: "\n") + "\n").write(toFile: path("clips.jsonl"), atomically: true, encoding: .utf8)
        var done: [String] = []
        for k in 0..<2 {
            let r = try impasto(["batch", path("clips.jsonl"), "--shard", "\(k)/2", "--status", path("status\(k).jsonl")] + args)
            XCTAssertEqual(r.status, 0, r.stderr)
            done += try String(contentsOfFile: path("status\(k).jsonl"), encoding: .utf8).split(separator: "\n")
                .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .filter { $0["event"] as? String == "done" }.compactMap { $0["output"] as? String }
        }
        XCTAssertEqual(done.sorted(), [path("clipA"), path("clipB")], "each clip done once over the shards")
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("clipA.done.json")))
        let alone = try impasto(["video", "--frames", input, "--output-dir", path("alone")] + args)
        XCTAssertEqual(alone.status, 0, alone.stderr)
        XCTAssertEqual(try outputs(path("clipA")).count, 3)
        for i in 1...3 {
            let name = String(format: "frame_%06d.png", i)
            XCTAssertEqual(try bytes(path("clipA/\(name)")), try bytes(path("alone/\(name)")), "\(name): batch and video differ")
        }
        let again = try impasto(["batch", path("clips.jsonl")] + args)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("0 done, 2 skipped"), again.stderr)
    }
}

extension VideoCommandTests {
    /// --passes 3: the first pass forward, then one backward and one forward over the frames as
    /// written; every frame redone (not the first pass's any more), the hidden content frames
    /// removed at the end, and a rerun does nothing.
    func testPassesRedoTheFramesInAlternatingDirections() throws {
        let input = try frames()
        let args = ["video", "--frames", input, "--first-frame-iterations", "4", "--frame-iterations", "3", "--frame-count", "3"] + common
        let one = try impasto(args + ["--output-dir", path("one")])
        XCTAssertEqual(one.status, 0, one.stderr)
        let three = try impasto(args + ["--output-dir", path("three"), "--passes", "3", "--pass-iterations", "2"])
        XCTAssertEqual(three.status, 0, three.stderr)
        XCTAssertEqual(try outputs(path("three")), (1...3).map { String(format: "frame_%06d.png", $0) })
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("three/.content")), "the later passes' content frames are removed")
        for i in 1...3 {
            let name = String(format: "frame_%06d.png", i)
            XCTAssertNotEqual(try bytes(path("three/\(name)")), try bytes(path("one/\(name)")), "\(name) was redone by the later passes")
        }
        let stamp = try FileManager.default.attributesOfItem(atPath: path("three/frame_000001.png"))[.modificationDate] as? Date
        let again = try impasto(args + ["--output-dir", path("three"), "--passes", "3", "--pass-iterations", "2"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path("three/frame_000001.png"))[.modificationDate] as? Date, stamp)
        let bad = try impasto(args + ["--output-dir", path("x"), "--passes", "0"])
        XCTAssertEqual(bad.status, 64, bad.stderr)
    }
}
