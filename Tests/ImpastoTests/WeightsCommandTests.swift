import XCTest
@testable import Impasto

/// `impasto weights`: mirrors tried in order, each download held to the same SHA-256 (a dead
/// address and one serving another file are passed over, never cached), a file imported by
/// hand checked the same way, verify and path. Servers on loopback only.
final class WeightsCommandTests: XCTestCase {
    let golden = Golden.div8
    var tmp: URL!
    override func setUpWithError() throws { tmp = try temporaryDirectory() }
    func path(_ n: String) -> String { tmp.appendingPathComponent(n).path }

    func weights(_ args: [String], cache: String) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProcess(try impastoBinary(), ["weights"] + args, environment: ["XDG_CACHE_HOME": cache, "IMPASTO_WEIGHTS_URL": ""])
    }

    func testMirrorsAreTriedInOrderAndHeldToOneHash() throws {
        let body = try Data(contentsOf: golden.dir.appendingPathComponent("vgg19_legacy.pth"))
        var h = SHA256()
        h.update(body)
        let name = "vgg19-\(h.finalize().prefix(8)).pth"
        let server = try LoopbackServer(files: [name: body, "wrong/\(name)": Data(body.reversed())])
        defer { server.stop() }
        let dead = "http://127.0.0.1:9/\(name)", wrong = server.url("wrong/\(name)"), right = server.url(name)
        let cache = path("cache")

        let none = try weights(["fetch", "--quiet", "--mirror", dead, "--mirror", wrong], cache: cache)
        XCTAssertEqual(none.status, 1, none.stderr)
        XCTAssertTrue(none.stderr.contains("none of the 2 addresses") && none.stderr.contains("[1]") && none.stderr.contains("[2]")
                      && none.stderr.contains("corrupt"), none.stderr)
        XCTAssertEqual(none.stderr.split(separator: "\n").count, 1, none.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cache + "/impasto/" + name), "a wrong file is never kept")

        let ok = try weights(["fetch", "--quiet", "--mirror", dead, "--mirror", wrong, "--mirror", right], cache: cache)
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let cached = cache + "/impasto/" + name
        XCTAssertEqual(ok.stdout.trimmingCharacters(in: .whitespacesAndNewlines), cached)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: cached)), body)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache + "/impasto").filter { $0.hasSuffix(".part") }, [])

        // IMPASTO_WEIGHTS_URL names the cache file, so verify and path look at the same one.
        let env = ["XDG_CACHE_HOME": cache, "IMPASTO_WEIGHTS_URL": right]
        let verified = try runProcess(try impastoBinary(), ["weights", "verify"], environment: env)
        XCTAssertEqual(verified.status, 0, verified.stderr)
        XCTAssertTrue(verified.stdout.hasPrefix("ok "), verified.stdout)
        let shown = try runProcess(try impastoBinary(), ["weights", "path"], environment: env)
        XCTAssertTrue(shown.stdout.contains(cached) && shown.stdout.contains("MB"), shown.stdout)
        var damaged = body
        damaged[damaged.count / 2] ^= 1
        try damaged.write(to: URL(fileURLWithPath: cached))
        let bad = try runProcess(try impastoBinary(), ["weights", "verify"], environment: env)
        XCTAssertEqual(bad.status, 1, bad.stdout)
        XCTAssertTrue(bad.stderr.contains("damaged"), bad.stderr)

        // A file downloaded by hand: imported when it is the right one, refused otherwise.
        try FileManager.default.removeItem(atPath: cached)
        try Data(body.reversed()).write(to: URL(fileURLWithPath: path("wrong.pth")))
        let refused = try runProcess(try impastoBinary(), ["weights", "fetch", "--from", path("wrong.pth")], environment: env)
        XCTAssertEqual(refused.status, 1, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("SHA-256 starts"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: cached))
        try body.write(to: URL(fileURLWithPath: path("mine.pth")))
        let imported = try runProcess(try impastoBinary(), ["weights", "fetch", "--from", path("mine.pth")], environment: env)
        XCTAssertEqual(imported.status, 0, imported.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: cached)), body)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("mine.pth"))), body, "the input is only read")

        let notHTTP = try weights(["fetch", "--mirror", "file:///etc/passwd"], cache: cache)
        XCTAssertEqual(notHTTP.status, 64, notHTTP.stderr)
    }
}
