import XCTest
@testable import Impasto

/// Program binaries and tuning results cached on disk.
final class CacheTests: XCTestCase {
    func saxpyWorks(_ ctx: CLContext) throws {
        let x: [Float] = [1, 2, 3], y: [Float] = [10, 20, 30]
        let by = try ctx.buffer(y)
        try ctx.kernel("saxpy", "saxpy").launch(global: [3], local: [1], .i(3), .f(2), .b(ctx.buffer(x)), .b(by))
        XCTAssertEqual(try by.read(), [12, 24, 36])
    }

    /// The second context loads the binary the first one wrote; a damaged binary is compiled
    /// from source again (and replaced), never an error.
    func testProgramBinariesAreCachedAndDamageFallsBack() throws {
        var settings = RuntimeSettings(cacheDirectory: try temporaryDirectory())
        settings.programCache = true
        let dir = settings.programDirectory
        let device = TestEnv.context.device

        let first = try CLContext(device: device, settings: settings)
        XCTAssertFalse(try first.program("saxpy").fromCache)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        XCTAssertEqual(files.filter { $0.hasSuffix(".bin") }.count, 1, "\(files)")
        XCTAssertTrue(files.allSatisfy { $0.hasSuffix(".bin") }, "no temporary file left: \(files)")

        let second = try CLContext(device: device, settings: settings)
        XCTAssertTrue(try second.program("saxpy").fromCache)
        try saxpyWorks(second)
        XCTAssertFalse(try second.program("saxpy", defines: ["UNUSED": "1"]).fromCache, "other options, other binary")

        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            try Data("not a binary".utf8).write(to: dir.appendingPathComponent(name))
        }
        let third = try CLContext(device: device, settings: settings)
        XCTAssertFalse(try third.program("saxpy").fromCache)
        try saxpyWorks(third)
        XCTAssertTrue(try CLContext(device: device, settings: settings).program("saxpy").fromCache, "the damaged binary was replaced")
    }

    /// The quirk table drives the program cache's default: off on POCL (its own cache) and on
    /// Intel's CPU runtime (binaries drop the argument types the launches are checked against).
    func testDriverQuirksSetTheProgramCacheDefault() throws {
        let device = TestEnv.context.device
        let quirks = DriverQuirks.of(device).map(\.name)
        let platform = device.platformName.lowercased()
        if platform.contains("portable computing language") { XCTAssertTrue(quirks.contains("pocl-own-cache"), "\(quirks)") }
        if platform.contains("intel(r) opencl") { XCTAssertTrue(quirks.contains("intel-binaries-drop-arg-info"), "\(quirks)") }
        let settings = RuntimeSettings(cacheDirectory: try temporaryDirectory())  // programCache nil: the quirks decide
        XCTAssertEqual(ProgramCache.enabled(for: device, settings: settings), !DriverQuirks.of(device).contains { $0.effect == .noProgramCache })
        var forced = settings
        forced.programCache = true
        XCTAssertTrue(ProgramCache.enabled(for: device, settings: forced))
    }

    /// A context on the test device whose autotune cache is a fresh file.
    func contextWithTemporaryTuningFile() throws -> CLContext {
        try CLContext(device: TestEnv.context.device, settings: RuntimeSettings(cacheDirectory: try temporaryDirectory()))
    }

    /// Tuned once per device, then read back; an entry with values outside the choices is
    /// measured again; other devices' entries are kept.
    func testTuningIsMeasuredOnceAndCached() throws {
        let ctx = try contextWithTemporaryTuningFile(), shape = (c: 16, h: 32, w: 64)
        let (first, source) = try Autotune.tuning(for: ctx, shape: shape)
        guard case .measured(_, _, let complete) = source else { return XCTFail("\(source)") }
        XCTAssertTrue(complete, "\(source)")
        XCTAssertTrue(first.isValid, "\(first)")
        let (again, sourceAgain) = try Autotune.tuning(for: ctx, shape: shape)
        XCTAssertEqual(sourceAgain, .cached)
        XCTAssertEqual(again, first)

        let key = Autotune.key(for: ctx.device)
        let bad = "{\"\(key)\": {\"winogradTiles\": 3, \"gemmLocal\": [1, 1], \"transformLocal\": 16, \"transformTiles\": 16}, \"another-device\": {\"winogradTiles\": 512, \"gemmLocal\": [4, 4], \"transformLocal\": 64, \"transformTiles\": 1}}"
        try Data(bad.utf8).write(to: ctx.settings.tuningFile)
        let (fixed, resource) = try Autotune.tuning(for: ctx, shape: shape)
        XCTAssertNotEqual(resource, .cached)
        XCTAssertTrue(fixed.isValid)
        let stored = try JSONDecoder().decode([String: Tuning].self, from: Data(contentsOf: ctx.settings.tuningFile))
        XCTAssertEqual(stored[key], fixed)
        XCTAssertEqual(stored["another-device"], Tuning(winogradTiles: 512, gemmLocal: [4, 4], transformLocal: 64, transformTiles: 1))
    }

    /// The autotune is bounded: a device slower than the probe's limit keeps the defaults
    /// untimed (and nothing is cached), and a spent budget stops the timing with the best so far.
    func testTuningIsBoundedInTime() throws {
        let ctx = try contextWithTemporaryTuningFile(), shape = (c: 16, h: 32, w: 64)
        let (slow, slowSource) = try Autotune.tuning(for: ctx, shape: shape, limits: .init(probeSeconds: 0))
        XCTAssertEqual(slow, Tuning.defaults(for: ctx.device))
        guard case .defaults(let why) = slowSource else { return XCTFail("\(slowSource)") }
        XCTAssertTrue(why.contains("probe"), why)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ctx.settings.tuningFile.path), "defaults from a slow probe are not cached")

        let (cut, cutSource) = try Autotune.tuning(for: ctx, shape: shape, limits: .init(budgetSeconds: 0))
        XCTAssertTrue(cut.isValid)
        guard case .measured(_, _, let complete) = cutSource else { return XCTFail("\(cutSource)") }
        XCTAssertFalse(complete, "a zero budget leaves candidates untimed")
        XCTAssertTrue("\(cutSource)".contains("time budget"))
    }

    /// Every tuning choice computes the same bits: a stale choice can be slow, never wrong.
    func testEveryTuningGivesTheSameConvolution() throws {
        let ctx = TestEnv.context
        var rng = TestRNG(8)
        let (c, h, w) = (16, 40, 72)
        let input = try ctx.buffer(rng.floats(c * h * w)), weights = try ctx.buffer(rng.floats(c * c * 9, scale: 0.3))
        let bias = try ctx.buffer(rng.floats(c.roundedUp(to: Kernels.convOCB)))
        var reference: [Float]?
        for tiles in Tuning.tileChoices { for local in Tuning.gemmLocalChoices { for transform in [1, 64] { for tv in Tuning.transformTilesChoices {
            let t = Tuning(winogradTiles: tiles, gemmLocal: local, transformLocal: transform, transformTiles: tv)
            let out = try ctx.buffer(floats: c * h * w)
            try Kernels(context: ctx, tuning: t).winogradConv(input: input, weights: weights, flipped: false, bias: bias, output: out,
                                                              cin: c, cout: c, height: h, width: w,
                                                              scratch: WinogradScratch(maxTiles: tiles / 16))
            let got = try out.read()
            if let reference { XCTAssertEqual(got, reference, "\(t)") } else { reference = got }
        } } } }
    }
}
