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

    /// The README's library example is the file that `swift build` builds, and it runs.
    func testREADMELibraryExampleIsBuiltAndRuns() throws {
        let readme = try String(contentsOf: TestEnv.repoRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let file = try String(contentsOf: TestEnv.repoRoot.appendingPathComponent("Sources/stylize-example/main.swift"), encoding: .utf8)
        let section = try XCTUnwrap(readme.components(separatedBy: "\n## Using Impasto from Swift").dropFirst().first?
            .components(separatedBy: "\n## ").first, "README has a 'Using Impasto from Swift' section")
        let block = try XCTUnwrap(section.components(separatedBy: "```swift\n").dropFirst().first?.components(separatedBy: "```").first)
        XCTAssertEqual(block, file, "the README's example and Sources/stylize-example/main.swift differ")
        let binary = TestEnv.buildDir.appendingPathComponent("stylize-example").path
        let out = try temporaryDirectory().appendingPathComponent("example.png").path
        let images = TestEnv.shared.appendingPathComponent("images")
        let r = try runProcess(binary, [images.appendingPathComponent("tubingen.jpg").path,
                                        images.appendingPathComponent("starry_night.jpg").path, out])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("wrote \(out) after 30 iterations"), r.stdout)
        let picture = try ImageFile.read(out)
        XCTAssertEqual([picture.width, picture.height], [128, 96])
    }
}
