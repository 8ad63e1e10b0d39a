import XCTest

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
