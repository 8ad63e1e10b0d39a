import XCTest
import Impasto

/// Promises the repository makes about itself.
final class RepositoryTests: XCTestCase {
    func testCIRunsTheREADMETestCommand() throws {
        let readme = try String(contentsOf: TestEnv.repoRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let ci = try String(contentsOf: TestEnv.repoRoot.appendingPathComponent(".ci/run"), encoding: .utf8)
        let setUp = try XCTUnwrap(readme.components(separatedBy: "\n## Set up and run").dropFirst().first?
            .components(separatedBy: "\n## ").first, "README has a 'Set up and run' section")
        let blocks = setUp.components(separatedBy: "```sh\n").dropFirst().map { $0.components(separatedBy: "\n```")[0] }
        XCTAssertEqual(blocks.count, 2, "README keeps exactly two set-up commands")
        XCTAssertTrue(blocks.allSatisfy { !$0.contains("\n") }, "each is one command line")
        let testCommand = try XCTUnwrap(blocks.last)
        let lastLine = ci.split(separator: "\n").last.map(String.init)
        XCTAssertEqual(lastLine, testCommand)
    }

    /// The README's library examples are the files that `swift build` builds, and they run:
    /// a picture, a batch (and its rerun, which skips what is done) and a video.
    func testREADMELibraryExamplesAreBuiltAndRun() throws {
        let readme = try String(contentsOf: TestEnv.repoRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try XCTUnwrap(readme.components(separatedBy: "\n## Using Impasto from Swift").dropFirst().first?
            .components(separatedBy: "\n## ").first, "README has a 'Using Impasto from Swift' section")
        let blocks = section.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "```").first ?? "" }
        let names = ["stylize-example", "batch-example", "video-example"]
        XCTAssertEqual(blocks.count, names.count, "one example each")
        for (name, block) in zip(names, blocks) {
            let file = try String(contentsOf: TestEnv.repoRoot.appendingPathComponent("Sources/\(name)/main.swift"), encoding: .utf8)
            XCTAssertEqual(block, file, "the README's example and Sources/\(name)/main.swift differ")
        }
        let dir = try temporaryDirectory()
        let images = TestEnv.shared.appendingPathComponent("images")
        func image(_ name: String) -> String { images.appendingPathComponent(name).path }
        func run(_ name: String, _ args: [String]) throws -> String {
            let r = try runProcess(TestEnv.buildDir.appendingPathComponent(name).path, args)
            XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
            return r.stdout
        }

        let out = dir.appendingPathComponent("example.png").path
        let picture = try run("stylize-example", [image("tubingen.jpg"), image("starry_night.jpg"), out])
        XCTAssertTrue(picture.contains("wrote \(out) after 30 iterations"), picture)
        XCTAssertEqual([try ImageFile.read(out).width, try ImageFile.read(out).height], [128, 96])

        let photos = dir.appendingPathComponent("photos"), results = dir.appendingPathComponent("results")
        for d in [photos, results] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        for (i, name) in ["tubingen.jpg", "the_scream.jpg"].enumerated() {
            try ImageFile.write(try ImageFile.read(image(name)).resized(width: 80, height: 60), to: photos.appendingPathComponent("p\(i).png").path)
        }
        let first = try run("batch-example", [photos.path, image("starry_night.jpg"), results.path])
        XCTAssertTrue(first.contains("batch: 2 done, 0 skipped, 0 failed"), first)
        let again = try run("batch-example", [photos.path, image("starry_night.jpg"), results.path])
        XCTAssertTrue(again.contains("batch: 0 done, 2 skipped, 0 failed"), again)
        XCTAssertEqual(try ImageFile.read(results.appendingPathComponent("p1.png.png").path).width, 64)

        let frames = dir.appendingPathComponent("frames"), stylized = dir.appendingPathComponent("stylized")
        try FileManager.default.createDirectory(at: frames, withIntermediateDirectories: true)
        let photo = try ImageFile.read(image("tubingen.jpg"))
        for i in 0..<3 {
            let clip = SyntheticMotion.clip(photo: photo, object: photo, width: 64, height: 48, count: 3)
            try ImageFile.write(clip.frames[i], to: frames.appendingPathComponent("f\(i + 1).png").path)
        }
        let video = try run("video-example", [frames.path, image("starry_night.jpg"), stylized.path])
        XCTAssertTrue(video.contains("frame 2: 5 iterations") && video.contains("video: 3 frames"), video)
        for i in 1...3 { XCTAssertTrue(FileManager.default.fileExists(atPath: stylized.appendingPathComponent(String(format: "frame_%06d.png", i)).path)) }
    }
}
