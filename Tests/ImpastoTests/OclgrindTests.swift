import Foundation
import XCTest
@testable import Impasto

/// Runs the kernel tests again inside oclgrind, the OpenCL simulator that reports invalid
/// memory accesses, data races and reads of uninitialised memory. The child is this same test
/// binary, filtered to the kernel tests, with IMPASTO_UNDER_OCLGRIND=1 so they use tiny shapes.
final class OclgrindTests: XCTestCase {
    /// The test classes whose kernels must run clean.
    static let checkedTests = [
        "ImpastoTests.RuntimeTests/testSaxpyOnAMillionElements",
        "ImpastoTests.KernelTests",
        "ImpastoTests.FlowKernelTests",
        "ImpastoTests.MaskAndNormalizeTests/testMaskedStyleLossGradient",
        "ImpastoTests.MaskAndNormalizeTests/testNormalizedGradientsHaveTheWeightAsL1Norm",
        "ImpastoTests.HalfStorageTests/testConvolutionsStoringHalf",
        "ImpastoTests.HalfStorageTests/testPoolingAndReLUStoringHalf",
        "ImpastoTests.HalfStorageTests/testLossKernelsStoringHalf",
        "ImpastoTests.W2Tests/testW2KernelsMatchHost",
        "ImpastoTests.W2Tests/testW2TwoRegions",
        "ImpastoTests.W2Tests/testHalfStorage",
    ]

    func testKernelsRunCleanUnderOclgrind() throws {
        let (log, output) = try runUnderOclgrind(filter: Self.checkedTests.joined(separator: ","), env: [:])
        XCTAssertEqual(output.status, 0, "kernel tests failed under oclgrind:\n\(output.stdout.suffix(4000))\n\(output.stderr.suffix(4000))")
        XCTAssertTrue(output.stdout.contains("with 0 failures") || output.stderr.contains("with 0 failures"),
                      "the child ran no tests:\n\(output.stderr.suffix(2000))")
        XCTAssertFalse(output.stderr.contains("Executed 0 tests"), "the filter matched no tests")
        XCTAssertEqual(log, "", "oclgrind reported problems:\n\(log.prefix(6000))")
    }

    /// The check above can fail: a kernel with an out-of-bounds read, a race and an
    /// uninitialised read is reported.
    func testOclgrindReportsABadKernel() throws {
        let (log, _) = try runUnderOclgrind(filter: "ImpastoTests.OclgrindTests/testCanaryBody",
                                            env: ["IMPASTO_OCLGRIND_CANARY": "1"])
        XCTAssertTrue(log.contains("Invalid read"), log)
        XCTAssertTrue(log.lowercased().contains("race"), log)
        XCTAssertTrue(log.lowercased().contains("uninitialized"), log)
    }

    /// Only meaningful as oclgrind's child (it reads out of bounds on purpose).
    func testCanaryBody() throws {
        guard ProcessInfo.processInfo.environment["IMPASTO_OCLGRIND_CANARY"] == "1" else {
            throw XCTSkip("runs only as the child of testOclgrindReportsABadKernel")
        }
        let source = """
        __kernel void bad(const int n, __global const float* x, __global float* y, __local float* scratch) {
            const int i = get_global_id(0);
            if (i < n) {
                y[0] = x[i + 1] + (float)i;           // reads x[n]; every item writes y[0]
                y[1] = scratch[get_local_id(0)];      // never written
            }
        }
        """
        let ctx = TestEnv.context
        let program = try Program(context: ctx, source: source, name: "bad", options: Program.options(defines: [:]))
        let x = try ctx.buffer(floats: 8), y = try ctx.buffer(floats: 8)
        try program.kernel("bad").launch(global: [8], local: [8], .i(8), .b(x), .b(y), .local(32))
        try ctx.finish()
    }

    /// oclgrind 21.10 keeps a released buffer's size for the next, larger buffer in its slot,
    /// whose bytes past that size then read as uninitialised although the host wrote them all
    /// (results stay right). This shows the false report still happens when buffers are released
    /// (IMPASTO_KEEP_BUFFERS=0), and that by default, on oclgrind's platform, impasto keeps them
    /// (`DriverQuirks`' oclgrind-reused-slot) and runs clean. When the first part fails,
    /// oclgrind is fixed and the quirk can go.
    func testOclgrindMisreadsAReusedBufferSlotAndTheQuirkAvoidsIt() throws {
        let filter = "ImpastoTests.OclgrindTests/testReusedSlotBody"
        let (released, child) = try runUnderOclgrind(filter: filter, env: ["IMPASTO_OCLGRIND_REUSE": "1", "IMPASTO_KEEP_BUFFERS": "0"])
        XCTAssertEqual(child.status, 0, "the results are right all the same: \(child.stderr.suffix(2000))")
        XCTAssertTrue(released.contains("Uninitialized value"), "oclgrind no longer misreads a reused slot:\n\(released.prefix(2000))")
        let (kept, _) = try runUnderOclgrind(filter: filter, env: ["IMPASTO_OCLGRIND_REUSE": "1"])
        XCTAssertEqual(kept, "", "with the quirk's kept buffers the same work is clean")
    }

    /// Only meaningful as oclgrind's child: rounds of buffers written by the host, read by a
    /// kernel and released, each round's larger than the last.
    func testReusedSlotBody() throws {
        guard ProcessInfo.processInfo.environment["IMPASTO_OCLGRIND_REUSE"] == "1" else {
            throw XCTSkip("runs only as the child of testOclgrindMisreadsAReusedBufferSlotAndTheQuirkAvoidsIt")
        }
        let source = """
        __kernel void twice(const int n, __global const float* x, __global float* y) {
            const int i = get_global_id(0);
            if (i < n) { if (x[i] > 0.0f) y[i] = 2.0f * x[i]; else y[i] = 0.0f; }
        }
        """
        let ctx = try CLContext(device: TestEnv.context.device, settings: .fromEnvironment())
        let program = try Program(context: ctx, source: source, name: "twice", options: Program.options(defines: [:]))
        for round in 1...3 {
            let n = 64 * round
            let x = try ctx.buffer([Float](repeating: 1, count: n)), y = try ctx.buffer(floats: n), z = try ctx.buffer(floats: n)
            try program.kernel("twice").launch(global: [n], local: [64], .i(n), .b(x), .b(y))
            try program.kernel("twice").launch(global: [n], local: [64], .i(n), .b(y), .b(z))
            XCTAssertEqual(try z.read(), [Float](repeating: 4, count: n))
        }
    }

    private func runUnderOclgrind(filter: String, env: [String: String]) throws -> (log: String, output: (status: Int32, stdout: String, stderr: String)) {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        var childEnv = env
        childEnv["IMPASTO_UNDER_OCLGRIND"] = "1"
        childEnv["IMPASTO_DEVICE"] = ""  // oclgrind is the only platform the child sees
        // No build options: impasto builds unoptimised on oclgrind itself (the oclgrind-freeze quirk).
        return try underOclgrind(["--check-api", me, filter], environment: childEnv)
    }
}

/// Runs a program under oclgrind with its race and uninitialised-value checks: what oclgrind
/// reported (empty when clean) and the program's own result.
func underOclgrind(_ arguments: [String], environment: [String: String] = [:],
                   file: StaticString = #filePath, line: UInt = #line) throws -> (log: String, output: (status: Int32, stdout: String, stderr: String)) {
    let oclgrind = "/usr/bin/oclgrind"
    guard FileManager.default.isExecutableFile(atPath: oclgrind) else {
        XCTFail("oclgrind is not installed (Debian package `oclgrind`)", file: file, line: line)
        throw XCTSkip("no oclgrind")
    }
    let logURL = FileManager.default.temporaryDirectory.appendingPathComponent("impasto-oclgrind-\(UUID().uuidString).log")
    defer { try? FileManager.default.removeItem(at: logURL) }
    _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
    let output = try runProcess(oclgrind, ["--data-races", "--uninitialized", "--log", logURL.path] + arguments, environment: environment)
    let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
    return (log.trimmingCharacters(in: .whitespacesAndNewlines), output)
}

/// A whole stylize, as a user runs it under oclgrind (no build options, no variables): the
/// graph, both sweeps, the optimiser and every loss on the golden net at 20x18, clean. Kept
/// apart from the kernel tests (about a minute and a half) so CI runs it once.
final class OclgrindStylizeTests: XCTestCase {
    func testAWholeTinyStylizeRunsClean() throws {
        let golden = Golden.div8, tmp = try temporaryDirectory()
        let out = tmp.appendingPathComponent("o.png").path
        let (log, r) = try underOclgrind([try impastoBinary(), "stylize", "--content", golden.dir.appendingPathComponent("content.png").path,
                                          "--style", golden.dir.appendingPathComponent("style.png").path, "--weights", golden.weightsURL.path,
                                          "--size", "20x18", "--iterations", "2", "--output", out, "--quiet"],
                                         environment: ["IMPASTO_DEVICE": ""])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(log, "", "oclgrind reported problems:\n\(log.prefix(4000))")
        let picture = try ImageFile.read(out)
        XCTAssertEqual([picture.width, picture.height], [20, 18])
    }
}

