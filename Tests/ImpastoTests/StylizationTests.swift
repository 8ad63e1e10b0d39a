import XCTest
@testable import Impasto

/// The library's run (`Stylization`), in-process: the same picture as the CLI's for the same
/// request, the events observers get, interruption, and the request's checks.
final class StylizationTests: XCTestCase {
    var ctx: CLContext { TestEnv.context }
    let golden = Golden.div8
    var content: RGBImage { get throws { try ImageFile.read(golden.dir.appendingPathComponent("content.png").path) } }
    var style: RGBImage { get throws { try ImageFile.read(golden.dir.appendingPathComponent("style.png").path) } }

    final class Recorder: StylizeObserver {
        var events: [String] = []
        var snapshots = 0
        func observe(_ event: StylizeEvent) throws {
            switch event {
            case .tiles(let scale, _, _, let plan, _): events.append("tiles \(scale) \(plan.tiles.count)")
            case .balanced: events.append("balanced")
            case .resumed(let i): events.append("resumed \(i)")
            case .started(let s): _ = try s.picture(); snapshots += 1; events.append("started")
            case .model: break
            case .iteration(let it): events.append("iter \(it.index) scale \(it.scale) \(it.width)x\(it.height)\(it.isLast ? " last" : "")")
            }
        }
    }

    /// Two scales, random weights (balanced), a style blend, luminance colours: the picture the
    /// library returns is the one `impasto stylize` writes for the same options, pixel for pixel.
    /// (The CLI tunes its context, so `auto` would run its timed kernels there and the untimed
    /// rule here: both are told to run Winograd.)
    func testRunMatchesTheCLI() throws {
        let tmp = try temporaryDirectory()
        let out = tmp.appendingPathComponent("cli.png").path
        let stylePath = golden.dir.appendingPathComponent("style.png").path
        let r = try runProcess(try impastoBinary(), [
            "stylize", "--content", golden.dir.appendingPathComponent("content.png").path, "--style", stylePath, "--style", stylePath,
            "--style-blend", "3,1", "--preserve-colors", "luminance", "--scales", "2", "--scale-iterations", "3,2",
            "--size", "64x48", "--weights", "random:5", "--conv", "winograd", "--output", out, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)

        var request = StylizeRequest(content: try content, styles: [try style, try style],
                                     sizes: [(32, 24), (64, 48)], iterations: [3, 2])
        request.styleBlend = [3, 1]
        request.colors = .luminance
        request.balance = [.content, .style]
        request.loss.convolution = .winograd
        let recorder = Recorder()
        let result = try Stylization(context: ctx, weights: try VGGWeights.random(seed: 5)).run(request, observers: [recorder])
        let cli = try ImageFile.read(out)
        XCTAssertEqual(result.picture.width, 64)
        XCTAssertEqual(result.iterations, 5)
        XCTAssertFalse(result.interrupted)
        // The CLI wrote 8-bit PNG: compare at that precision.
        let levels = result.picture.pixels.map { (min(max($0, 0), 1) * 255).rounded() / 255 }
        XCTAssertEqual(levels.count, cli.pixels.count)
        let worst = zip(levels, cli.pixels).map { abs($0 - $1) }.max() ?? 1
        XCTAssertLessThanOrEqual(worst, 1.0 / 255 + 1e-6, "library and CLI pictures differ by \(worst * 255) levels")
        XCTAssertEqual(recorder.events, ["balanced", "started", "iter 0 scale 0 32x24", "iter 1 scale 0 32x24", "iter 2 scale 0 32x24",
                                         "iter 3 scale 1 64x48", "iter 4 scale 1 64x48 last"])
        XCTAssertEqual(recorder.snapshots, 1)
    }

    func testShouldStopEndsTheRunWithThePictureSoFar() throws {
        var request = StylizeRequest(content: try content, styles: [try style], sizes: [(48, 32)], iterations: [10])
        request.optimizer = .lbfgs(history: 3)
        request.balance = [.content, .style]
        request.loss.convolution = .winograd
        let recorder = Recorder()
        var asked = 0
        let result = try Stylization(context: ctx, weights: try VGGWeights.random(seed: 2, widthDivisor: 8))
            .run(request, observers: [recorder], shouldStop: { asked += 1; return asked == 4 })
        XCTAssertTrue(result.interrupted)
        XCTAssertEqual(result.iterations, 4)
        XCTAssertEqual(recorder.events.last, "iter 3 scale 0 48x32 last")
        XCTAssertEqual(result.picture.width, 48)

        // Both weights given: nothing is balanced, and no balancing is reported.
        (request.weights.content, request.weights.style, request.balance) = (1, 100, [])
        request.iterations = [1]
        let quiet = Recorder()
        _ = try Stylization(context: ctx, weights: try VGGWeights.random(seed: 2, widthDivisor: 8)).run(request, observers: [quiet])
        XCTAssertEqual(quiet.events, ["started", "iter 0 scale 0 48x32 last"])
    }

    func testRequestChecksComeBeforeAnyWork() throws {
        let picture = try content
        var bad = StylizeRequest(content: picture, styles: [picture], sizes: [(64, 48)], iterations: [1, 2])
        XCTAssertThrowsError(try bad.validate()) { XCTAssertEqual($0 as? SettingError, SettingError("iterations", "has 2 counts for 1 scales")) }
        bad.iterations = [1]
        bad.styleBlend = [0]
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("not all 0"), "\($0)") }
        bad.styleBlend = nil
        bad.sizes = [(8, 8)]
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("below VGG19"), "\($0)") }
        bad.sizes = [(64, 48)]
        bad.optimizer = .lbfgs(history: 0)
        XCTAssertThrowsError(try bad.validate()) { XCTAssertEqual(($0 as? SettingError)?.field, "lbfgsHistory") }
        bad.optimizer = .adam
        bad.lr = -1
        XCTAssertThrowsError(try bad.validate()) { XCTAssertEqual(($0 as? SettingError)?.field, "lr") }
        bad.lr = nil
        XCTAssertNoThrow(try bad.validate())
    }
}
