import Foundation
import XCTest
@testable import Impasto

/// One OpenCL context for the whole test run (device from IMPASTO_DEVICE, else the default).
enum TestEnv {
    static let context: CLContext = {
        do { return try CLContext(selecting: ProcessInfo.processInfo.environment["IMPASTO_DEVICE"]) }
        catch { fatalError("no OpenCL device for the tests: \(error)") }
    }()

    /// Set when this process is the copy of the test binary that OclgrindTests runs under
    /// oclgrind: kernel tests then use their smallest shapes (the simulator is slow).
    static let underOclgrind = ProcessInfo.processInfo.environment["IMPASTO_UNDER_OCLGRIND"] == "1"

    /// `../shared` beside the repository (read-only golden data and images).
    static let shared: URL = repoRoot.deletingLastPathComponent().appendingPathComponent("shared")

    static let repoRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    /// The directory holding the test bundle and the built `impasto` beside it.
    static let buildDir: URL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
}

/// Deterministic test data, so a failure reproduces: the product's own generator.
typealias TestRNG = SplitMix64
extension SplitMix64 {
    init(_ seed: UInt64) { self.init(seed: seed) }
}

/// Asserts every element matches within `abs + rel·|expected|`, naming the first that does not.
func assertClose(_ actual: [Float], _ expected: [Float], abs: Float = 1e-5, rel: Float = 1e-4,
                 _ what: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(what): length", file: file, line: line)
    for i in 0..<min(actual.count, expected.count) {
        let a = actual[i], e = expected[i]
        if !(Swift.abs(a - e) <= abs + rel * Swift.abs(e)) {
            XCTFail("\(what): element \(i) is \(a), expected \(e)", file: file, line: line)
            return
        }
    }
}

/// Relative L2 error ‖a − e‖ / ‖e‖, in double precision.
func relativeL2(_ a: [Float], _ e: [Float]) -> Double {
    var num = 0.0, den = 0.0
    for i in 0..<min(a.count, e.count) {
        let d = Double(a[i]) - Double(e[i])
        num += d * d
        den += Double(e[i]) * Double(e[i])
    }
    return (num / max(den, 1e-300)).squareRoot()
}

/// Runs a program to completion and returns its exit status and both outputs.
@discardableResult
func runProcess(_ path: String, _ args: [String], environment: [String: String] = [:],
                timeout: TimeInterval = 600) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    // Drain stderr on another thread while stdout is read here, so a chatty child cannot
    // block on a full pipe.
    final class Box: @unchecked Sendable { var data = Data() }
    let errBox = Box()
    let done = DispatchSemaphore(value: 0)
    DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); done.signal() }
    let killer = DispatchWorkItem { if p.isRunning { p.terminate() } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    done.wait()
    p.waitUntilExit()
    killer.cancel()
    let errData = errBox.data
    return (p.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// The `impasto` executable built beside the tests.
func impastoBinary(file: StaticString = #filePath, line: UInt = #line) throws -> String {
    let path = TestEnv.buildDir.appendingPathComponent("impasto").path
    guard FileManager.default.isExecutableFile(atPath: path) else {
        XCTFail("impasto is not built at \(path); run `swift build` before `swift test`", file: file, line: line)
        throw XCTSkip("no impasto binary")
    }
    return path
}

extension XCTestCase {
    /// A fresh temporary directory, removed when the test ends.
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("impasto-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}

extension XCTestCase {
    /// Debian's ffmpeg (a failure, not a skip, when it is missing: CI installs it).
    func ffmpeg() throws -> String {
        for d in ["/usr/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: "\(d)/ffmpeg") { return "\(d)/ffmpeg" }
        XCTFail("ffmpeg is not installed (Debian package ffmpeg; tools/setup-debian.sh installs it)")
        throw XCTSkip("no ffmpeg")
    }
}
