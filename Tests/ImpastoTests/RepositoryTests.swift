import XCTest

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
}
