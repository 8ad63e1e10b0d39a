import XCTest
@testable import Impasto

/// The whole optical flow: against its CPU reference, and its end-point error on synthetic
/// pairs made from ../shared/images with known motion (an accuracy bound, not a timing).
final class FlowAccuracyTests: XCTestCase {
    var ctx: CLContext { TestEnv.context }

    func photo(_ name: String) throws -> RGBImage {
        try ImageFile.read(TestEnv.shared.appendingPathComponent("images/\(name)").path)
    }

    func testFlowMatchesTheCPUReference() throws {
        let a = try photo("tubingen.jpg").resized(width: 40, height: 30)
        let pair = SyntheticMotion.pair(.rotation, photo: a, object: a, width: 40, height: 30)
        var s = FlowSettings()
        s.warps = 2
        s.sweeps = 5
        let flow = try OpticalFlow(kernels: FlowKernels(context: ctx), width: 40, height: 30, settings: s)
        XCTAssertEqual(flow.levels.map { [$0.width, $0.height] }, [[40, 30], [20, 15]])
        let device = try flow.flow(from: pair.a, to: pair.b)
        let reference = CPUFlow.flow(pair.a, pair.b, settings: s)
        assertClose(device.values, reference, abs: 2e-3, rel: 1e-3, "flow vs CPU reference")
        XCTAssertGreaterThan(reference.map { abs($0) }.max()!, 0.3, "the pair has motion to find")
    }

    /// Mean end-point error at most 0.5 px on the textured, unoccluded pixels of every kind of motion.
    func testEndPointErrorOnSyntheticMotion() throws {
        let (w, h) = (128, 96)
        let flow = try OpticalFlow(kernels: FlowKernels(context: ctx), width: w, height: h)
        for (photoName, objectName) in [("tubingen.jpg", "starry_night.jpg"), ("shipwreck.jpg", "the_scream.jpg")] {
            let p = try photo(photoName), o = try photo(objectName)
            for kind in SyntheticMotion.Kind.allCases {
                let pair = SyntheticMotion.pair(kind, photo: p, object: o, width: w, height: h)
                let mask = zip(SyntheticMotion.textured(pair.a), pair.valid).map { $0 && $1 }
                XCTAssertGreaterThan(mask.filter { $0 }.count, w * h / 4, "\(kind) \(photoName): enough textured pixels")
                let f = try flow.flow(from: pair.a, to: pair.b)
                let epe = try XCTUnwrap(SyntheticMotion.endPointError(f, pair.truth, mask: mask))
                XCTAssertLessThanOrEqual(epe, 0.5, "\(kind) on \(photoName): mean EPE \(epe) px")
                // Where things move, the flow beats "no motion" by far (the object: its own pixels).
                let moving = (0..<(w * h)).map { mask[$0] && (pair.truth.values[$0] != 0 || pair.truth.values[w * h + $0] != 0) }
                let still = try XCTUnwrap(SyntheticMotion.endPointError(FlowField.zero(width: w, height: h), pair.truth, mask: moving))
                let onMoving = try XCTUnwrap(SyntheticMotion.endPointError(f, pair.truth, mask: moving))
                XCTAssertLessThan(onMoving, min(0.5, still / 4), "\(kind) on \(photoName): \(onMoving) px where it moves (no motion: \(still) px)")
            }
        }
    }

    /// The forward-backward check marks the background the object uncovers unreliable and
    /// keeps the rest.
    func testReliabilityFindsTheDisocclusion() throws {
        let (w, h) = (128, 96)
        let p = try photo("tubingen.jpg"), o = try photo("starry_night.jpg")
        let pair = SyntheticMotion.pair(.object, photo: p, object: o, width: w, height: h)
        let flow = try OpticalFlow(kernels: FlowKernels(context: ctx), width: w, height: h)
        let pa = try flow.pyramid(pair.a), pb = try flow.pyramid(pair.b)
        // b is the current frame, a the earlier: backward = b → a, forward = a → b.
        let reliable = try flow.reliability(backward: try flow.flow(from: pb, to: pa), forward: try flow.flow(from: pa, to: pb))
        // Pixels of b that were covered by the object in a (its old place, not its new one).
        let ow = w / 4, oh = h / 4
        let old = (Double(w) * 0.3, Double(h) * 0.35), d = (0.015 * Double(w) + 0.4, 0.01 * Double(h) + 0.3)
        var uncovered = 0, caught = 0, elsewhere = 0, kept = 0
        for y in 0..<h { for x in 0..<w {
            let inOld = Double(x) >= old.0 && Double(y) >= old.1 && Double(x) <= old.0 + Double(ow - 1) && Double(y) <= old.1 + Double(oh - 1)
            let inNew = Double(x) >= old.0 + d.0 && Double(y) >= old.1 + d.1 && Double(x) <= old.0 + d.0 + Double(ow - 1) && Double(y) <= old.1 + d.1 + Double(oh - 1)
            let farFromObject = Double(x) < old.0 - 6 || Double(x) > old.0 + d.0 + Double(ow + 6) || Double(y) < old.1 - 6 || Double(y) > old.1 + d.1 + Double(oh + 6)
            if inOld && !inNew { uncovered += 1; if reliable[y * w + x] == 0 { caught += 1 } }
            if farFromObject && x > 3 && y > 3 && x < w - 4 && y < h - 4 { elsewhere += 1; if reliable[y * w + x] == 1 { kept += 1 } }
        } }
        XCTAssertGreaterThan(uncovered, 20)
        XCTAssertGreaterThanOrEqual(Double(caught) / Double(uncovered), 0.5, "uncovered pixels marked unreliable: \(caught) of \(uncovered)")
        XCTAssertGreaterThanOrEqual(Double(kept) / Double(elsewhere), 0.95, "still background kept: \(kept) of \(elsewhere)")
    }

    func testFloFilesRoundTripAndResize() throws {
        let dir = try temporaryDirectory()
        var rng = TestRNG(46)
        let f = FlowField(width: 5, height: 3, values: (0..<30).map { _ in Float(rng.normal()) })
        let path = dir.appendingPathComponent("a.flo").path
        try f.write(flo: path)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(data.count, 12 + 8 * 15)
        XCTAssertEqual(String(decoding: data.prefix(4), as: UTF8.self), "PIEH")
        XCTAssertEqual(Array(data[4..<12]), [5, 0, 0, 0, 3, 0, 0, 0])
        XCTAssertEqual(try FlowField.read(flo: path), f)
        // Pixel-interleaved: the second float is v of the first pixel.
        let v0 = data[16..<20].withUnsafeBytes { $0.loadUnaligned(as: Float.self) }
        XCTAssertEqual(v0, f.v(0, 0))

        // A constant flow resized keeps its direction and scales with the size.
        let c = FlowField(width: 4, height: 4, values: [Float](repeating: 1.5, count: 16) + [Float](repeating: -2, count: 16))
        let big = c.resized(width: 8, height: 2)
        XCTAssertEqual(Set(big.values.prefix(16)), [3])
        XCTAssertEqual(Set(big.values.suffix(16)), [-1])

        // Damaged files are refused with a message.
        try Data("PIEH".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try FlowField.read(flo: path)) { XCTAssertTrue("\($0)".contains("not a .flo file"), "\($0)") }
        try data.prefix(40).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try FlowField.read(flo: path)) { XCTAssertTrue("\($0)".contains("bytes"), "\($0)") }
    }
}
