import XCTest
@testable import Impasto

/// `impasto plan` / `Stylization.plan`: what the plan says is what the run then does.
final class PlanTests: XCTestCase {
    final class Models: StylizeObserver {
        var memory: [Int: DeviceMemory] = [:], tiles: [Int: TilePlan] = [:]
        var peakLive = 0
        let context: CLContext
        init(_ context: CLContext) { self.context = context }
        func observe(_ event: StylizeEvent) throws {
            switch event {
            case .model(let scale, _, _, let m): memory[scale] = m
            case .tiles(let scale, _, _, let plan, _): tiles[scale] = plan
            case .iteration: peakLive = max(peakLive, context.liveBytes)
            default: break
            }
        }
    }

    /// Two scales, the first whole and the second tiled, with two style regions and iterate
    /// averaging: each scale's model memory and tiling in the plan are the run's, and the
    /// device memory the run holds stays within the plan's peak.
    func testPlanIsWhatTheRunDoes() throws {
        let golden = Golden.div8, ctx = TestEnv.context, weights = try golden.weights()
        let content = try ImageFile.read(golden.dir.appendingPathComponent("content.png").path)
        let style = try ImageFile.read(golden.dir.appendingPathComponent("style.png").path)
        let left = RGBImage(width: 2, height: 1, pixels: [1, 1, 1, 0, 0, 0])
        var r = StylizeRequest(content: content, styles: [style, style], sizes: [(256, 192), (512, 384)], iterations: [2, 2])
        r.styleMasks = [left, nil]
        r.averaging = .auto
        let whole = try Objectives.measureWhole(context: ctx, weights: weights, width: 512, height: 384, config: r.loss, masks: 2)
        r.memoryLimit = whole.total * 3 / 4 + 3 * AdamOptimizer.bytes(pixels: 3 * 512 * 384)
        let before = ctx.liveBytes
        let run = Stylization(context: ctx, weights: weights)
        let plan = try run.plan(r)
        XCTAssertEqual(ctx.liveBytes, before, "planning allocates nothing")
        XCTAssertEqual(plan.scales.map(\.iterations), [2, 2])
        XCTAssertNil(plan.scales[0].tiles, "the first scale fits whole")
        XCTAssertNotNil(plan.scales[1].tiles, "the second is tiled")
        XCTAssertGreaterThan(plan.scales[1].heldBytes, 0, "the first scale's image and moments")
        let models = Models(ctx)
        _ = try run.run(r, observers: [models])
        for (i, s) in plan.scales.enumerated() {
            XCTAssertEqual(models.memory[i]?.total, s.modelBytes, "scale \(i + 1): model memory")
            XCTAssertEqual(models.memory[i]?.largest, s.largestBuffer, "scale \(i + 1): largest buffer")
            let t = models.tiles[i].map { StylizePlan.Tiles(columns: $0.columns, rows: $0.rows, cropWidth: $0.cropWidth, cropHeight: $0.cropHeight) }
            XCTAssertEqual(t, s.tiles, "scale \(i + 1): tiles")
        }
        XCTAssertLessThanOrEqual(models.peakLive - before, plan.peakDeviceBytes, "the run within the plan's device memory")
        XCTAssertLessThanOrEqual(plan.peakDeviceBytes, r.memoryLimit!, "and within the limit")
    }

    /// Through the command line: text and JSON, no output written, bad options refused as by stylize.
    func testPlanCommand() throws {
        let golden = Golden.div8, tmp = try temporaryDirectory(), out = tmp.appendingPathComponent("out.png").path
        let args = ["plan", "--content", golden.dir.appendingPathComponent("content.png").path,
                    "--style", golden.dir.appendingPathComponent("style.png").path, "--output", out,
                    "--size", "128x96", "--scales", "2", "--weights", golden.weightsURL.path]
        let text = try runProcess(try impastoBinary(), args)
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("scale 1: 64x48, 500 iterations, whole"), text.stdout)
        XCTAssertTrue(text.stdout.contains("scale 2: 128x96, 250 iterations, whole"), text.stdout)
        let json = try runProcess(try impastoBinary(), args + ["--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let plan = try JSONDecoder().decode(StylizePlan.self, from: Data(json.stdout.utf8))
        XCTAssertEqual(plan.scales.map(\.width), [64, 128])
        XCTAssertGreaterThan(plan.peakDeviceBytes, 0)
        XCTAssertGreaterThan(try XCTUnwrap(plan.convolutionSeconds, "the CLI's tuned context times the shapes"), 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a plan writes nothing")
        let bad = try runProcess(try impastoBinary(), args + ["--iterations", "-3"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.hasPrefix("impasto: ") && bad.stderr.contains("--iterations"), bad.stderr)
    }
}
