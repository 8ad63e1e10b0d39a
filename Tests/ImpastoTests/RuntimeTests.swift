import XCTest
@testable import Impasto

final class RuntimeTests: XCTestCase {
    var ctx: CLContext { TestEnv.context }

    func testDevicesAreEnumeratedAndOneIsPreferred() throws {
        let devices = try Device.all()
        XCTAssertFalse(devices.isEmpty)
        let best = try XCTUnwrap(Device.preferred(among: devices))
        for d in devices {
            XCTAssertFalse(d.name.isEmpty)
            XCTAssertGreaterThan(d.computeUnits, 0)
            XCTAssertGreaterThan(d.maxWorkGroupSize, 0)
            XCTAssertGreaterThan(d.globalMemBytes, 0)
            if d.isGPU { XCTAssertTrue(best.isGPU, "a GPU exists, so the preferred device must be one") }
        }
        XCTAssertEqual(try Device.select(nil, among: devices).index, best.index)
        XCTAssertEqual(try Device.select("0", among: devices).index, 0)
        let byName = try Device.select(String(devices[0].name.prefix(6)).uppercased(), among: devices)
        XCTAssertTrue(byName.name.lowercased().hasPrefix(devices[0].name.prefix(6).lowercased()))
        // By type: "cpu"/"gpu" pick a device of that type, or name the choices.
        for (word, wanted) in [("cpu", false), ("GPU", true)] {
            if devices.contains(where: { $0.isGPU == wanted }) {
                XCTAssertEqual(try Device.select(word, among: devices).isGPU, wanted)
            } else {
                XCTAssertThrowsError(try Device.select(word, among: devices))
            }
        }
    }

    func testUnknownDeviceNamesTheChoices() throws {
        let devices = try Device.all()
        for bad in ["99", "no-such-device-xyz"] {
            XCTAssertThrowsError(try Device.select(bad, among: devices)) { error in
                let text = String(describing: error)
                XCTAssertTrue(text.contains(bad))
                XCTAssertTrue(text.contains(devices[0].name), "the message lists the choices: \(text)")
                XCTAssertFalse(text.contains("\n"))
            }
        }
    }

    func testBufferRoundTripCopyAndFill() throws {
        var rng = TestRNG(1)
        let values = rng.floats(1000)
        let a = try ctx.buffer(values)
        XCTAssertEqual(try a.read(), values)
        XCTAssertEqual(try a.read(count: 10, at: 5), Array(values[5..<15]))
        let b = try ctx.buffer(floats: 1000)
        try b.copy(from: a)
        XCTAssertEqual(try b.read(), values)
        try b.fill(2.5)
        XCTAssertEqual(try b.read(), [Float](repeating: 2.5, count: 1000))
        try b.write([7, 8], at: 998)
        XCTAssertEqual(try b.read(count: 3, at: 997), [2.5, 7, 8])
    }

    func testSaxpyOnAMillionElements() throws {
        let n = TestEnv.underOclgrind ? 1000 : 1_000_000
        var rng = TestRNG(2)
        let x = rng.floats(n), y = rng.floats(n)
        let bx = try ctx.buffer(x), by = try ctx.buffer(y)
        let k = try ctx.kernel("saxpy", "saxpy")
        let local = min(64, k.maxWorkGroupSize)
        let event = try ctx.recordingEvents { try k.launch(global: [n], local: [local], .i(n), .f(3), .b(bx), .b(by)) }
        XCTAssertGreaterThanOrEqual(try event.seconds(), 0)
        // Outside a recording a launch makes no event, and says so when asked for its time.
        let unrecorded = try k.launch(global: [n], local: [local], .i(n), .f(0), .b(bx), .b(bx))
        XCTAssertThrowsError(try unrecorded.seconds())
        try bx.write(x)
        let got = try by.read()
        // -cl-mad-enable may fuse the multiply-add, so allow one rounding of difference.
        assertClose(got, zip(x, y).map { 3 * $0 + $1 }, abs: 1e-6, rel: 1e-6, "saxpy")
    }

    func testBrokenKernelPutsTheBuildLogInTheError() throws {
        let source = "__kernel void broken(__global float* x) { x[0] = undeclared_thing_42; }"
        XCTAssertThrowsError(try Program(context: ctx, source: source, name: "broken", options: "")) { error in
            let e = error as? CLError
            XCTAssertEqual(e?.name, "CL_BUILD_PROGRAM_FAILURE")
            XCTAssertTrue(String(describing: error).contains("undeclared_thing_42"), "\(error)")
        }
    }

    func testKernelArgumentsAreChecked() throws {
        let k = try ctx.kernel("saxpy", "saxpy")
        let x = try ctx.buffer(floats: 4)
        // Wrong count.
        XCTAssertThrowsError(try k.set([.i(4), .f(1), .b(x)]))
        // A float where an int is declared.
        XCTAssertThrowsError(try k.set([.f(4), .f(1), .b(x), .b(x)])) { error in
            XCTAssertTrue(String(describing: error).contains("argument 0"), "\(error)")
        }
        XCTAssertNoThrow(try k.set([.i(4), .f(1), .b(x), .b(x)]))
    }

    func testErrorsAreNamed() {
        XCTAssertEqual(CLError.name(of: -5), "CL_OUT_OF_RESOURCES")
        XCTAssertEqual(CLError.name(of: -54), "CL_INVALID_WORK_GROUP_SIZE")
        XCTAssertEqual(String(describing: CLError(-4, "clCreateBuffer")), "clCreateBuffer failed: CL_MEM_OBJECT_ALLOCATION_FAILURE")
    }
}
