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

    private func runUnderOclgrind(filter: String, env: [String: String]) throws -> (log: String, output: (status: Int32, stdout: String, stderr: String)) {
        let oclgrind = "/usr/bin/oclgrind"
        guard FileManager.default.isExecutableFile(atPath: oclgrind) else {
            XCTFail("oclgrind is not installed (Debian package `oclgrind`)")
            throw XCTSkip("no oclgrind")
        }
        let logURL = FileManager.default.temporaryDirectory.appendingPathComponent("impasto-oclgrind-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: logURL) }
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        var childEnv = env
        childEnv["IMPASTO_UNDER_OCLGRIND"] = "1"
        childEnv["IMPASTO_KEEP_BUFFERS"] = "1"  // see Buffer.keepReleased
        childEnv["IMPASTO_DEVICE"] = ""  // oclgrind is the only platform the child sees
        // -cl-opt-disable: optimised code contains LLVM `freeze` instructions, which oclgrind
        // 21.10's uninitialised-value checker cannot execute (it stops with a fatal error).
        let output = try runProcess(oclgrind, ["--build-options", "-cl-opt-disable",
                                               "--data-races", "--uninitialized", "--check-api",
                                               "--log", logURL.path, me, filter], environment: childEnv)
        let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        return (log.trimmingCharacters(in: .whitespacesAndNewlines), output)
    }
}
