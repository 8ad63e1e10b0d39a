import XCTest
@testable import Impasto

/// `impasto devices` from outside, as a user runs it.
final class DevicesCommandTests: XCTestCase {
    func testTextListsTheSelectedDevice() throws {
        let r = try runProcess(try impastoBinary(), ["devices"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("(selected)"))
        XCTAssertTrue(r.stdout.contains("compute"))
    }

    func testJSONIsValidAndHasOneSelectedDevice() throws {
        let r = try runProcess(try impastoBinary(), ["devices", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        XCTAssertFalse(list.isEmpty)
        XCTAssertEqual(list.filter { $0["selected"] as? Bool == true }.count, 1)
        for key in ["name", "vendor", "deviceVersion", "driverVersion", "openCLCVersion", "computeUnits",
                    "clockMHz", "globalMemBytes", "localMemBytes", "maxAllocBytes", "maxWorkGroupSize", "fp16", "fp64"] {
            XCTAssertNotNil(list[0][key], "missing \(key)")
        }
    }

    func testUnknownDeviceIsOneLineAndNonZero() throws {
        for (args, env) in [(["devices", "--device", "42"], [String: String]()),
                            (["devices"], ["IMPASTO_DEVICE": "no-such-gpu"])] {
            let r = try runProcess(try impastoBinary(), args, environment: env)
            XCTAssertNotEqual(r.status, 0)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("unknown device"), r.stderr)
        }
    }

    func testNoOpenCLSaysWhatToInstall() throws {
        let r = try runProcess(try impastoBinary(), ["devices"], environment: ["OCL_ICD_VENDORS": "/nonexistent"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertLessThan(r.status, 128, "a clean exit, not a signal")
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("pocl-opencl-icd"), r.stderr)
    }
}

/// `impasto bench` and `impasto profile` on a tiny size: the JSON schema of design.md §3.
final class BenchCommandTests: XCTestCase {
    func testBenchJSONHasEveryFamily() throws {
        let r = try runProcess(try impastoBinary(), ["bench", "--json", "--size", "32x32", "--repeats", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let list = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        let names = Set(list.compactMap { $0["name"] as? String })
        for family in ["conv_fwd", "conv_bwd_data", "relu", "maxpool", "gram", "tv", "adam"] {
            XCTAssertTrue(names.contains(family), "missing \(family)")
        }
        for row in list {
            XCTAssertNotNil(row["layer"] as? String)
            XCTAssertGreaterThan(row["ms"] as? Double ?? -1, 0)
            XCTAssertTrue(row["gflops"] is Double || row["gbps"] is Double, "\(row)")
            XCTAssertNotNil(row["peak_share"] as? Double)
        }
        XCTAssertEqual(list.filter { $0["name"] as? String == "conv_fwd" }.count, 13, "one row per VGG19 conv layer")
    }

    func testProfileShowsPlanAndOps() throws {
        let r = try runProcess(try impastoBinary(), ["profile", "--size", "32x32", "--iterations", "1", "--weights", "random:1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("device memory planned"))
        XCTAssertTrue(r.stdout.contains("12:conv3_2+relu3_2.backward"), r.stdout)  // the ReLU fused into its conv
    }
}

/// `impasto devices --check`: the self-test passes on the device under test (CI runs it on
/// POCL, Intel's runtime and rusticl) and reports every check.
final class SelfTestTests: XCTestCase {
    func testSelfTestPassesHereAndNamesEachCheck() throws {
        let results = try SelfTest.run(on: TestEnv.context)
        XCTAssertEqual(results.count, 7)
        for r in results { XCTAssertTrue(r.passed, "\(r.name): relative error \(r.relativeError)") }
        let r = try runProcess(try impastoBinary(), ["devices", "--check", "--device", "\(TestEnv.context.device.index)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.components(separatedBy: "check           ok").count - 1, 7 * (try Device.all().count), r.stdout)
    }
}
