import XCTest
@testable import Impasto

/// Video stylization: the temporal objective's loss and gradient (whole and tiled), the
/// temporal error of a synthetic clip with the temporal loss against independent frames (an
/// accuracy bound), and `impasto video` and `impasto flow` as a user runs them.
final class VideoTests: XCTestCase {
    let golden = Golden.div8
    var ctx: CLContext { TestEnv.context }
    static var cachedWeights: VGGWeights?
    func weights() throws -> VGGWeights {
        if let w = Self.cachedWeights { return w }
        let w = try golden.weights()
        Self.cachedWeights = w
        return w
    }
    func photo(_ name: String) throws -> RGBImage { try ImageFile.read(TestEnv.shared.appendingPathComponent("images/\(name)").path) }

    static func normalized(_ p: RGBImage) -> [Double] {
        let mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225], n = p.width * p.height
        var out = [Double](repeating: 0, count: 3 * n)
        for i in 0..<n { for c in 0..<3 { out[c * n + i] = (Double(p.pixels[3 * i + c]) - mean[c]) / std[c] } }
        return out
    }

    /// The temporal objective adds weight/(3HW)·Σ c (x − t)² to the loss and its gradient to
    /// the base objective's, the same whole and in tiles.
    func testTemporalObjectiveAddsItsTermWholeAndTiled() throws {
        let (w, h) = (256, 224)
        let vgg = try weights()
        let content = try photo("tubingen.jpg").resized(width: w, height: h), style = try photo("starry_night.jpg").resized(width: w, height: h)
        let plan = try XCTUnwrap(TilePlan(width: w, height: h, columns: 2, rows: 1, halo: TilePlan.network(upTo: 28).halo,
                                          alignment: TilePlan.network(upTo: 28).alignment))
        let whole = try WholeImageObjective(context: ctx, weights: vgg, width: w, height: h)
        let tiled = try TiledObjective(context: ctx, weights: vgg, plan: plan)
        var rng = TestRNG(50)
        let target = RGBImage(width: w, height: h, pixels: (0..<(3 * w * h)).map { _ in Float(rng.uniform()) })
        let c = (0..<(w * h)).map { _ in rng.uniform() < 0.25 ? Float(0) : Float(rng.uniform()) }
        let start = (0..<(3 * w * h)).map { _ in Float(rng.normal()) }
        var results: [(LossTerms, [Float])] = []
        for base in [whole, tiled] as [Objective] {
            try base.setStyles([StyleSource(picture: style)])
            try base.setContent(content)
            base.setWeights(LossWeights(content: 1, style: 1e3, tv: 1))
            try base.setImage(start)
            let plain = try base.evaluate(), plainGrad = try base.grad.read()
            let t = try TemporalObjective(base: base, target: TemporalTarget(picture: target, weights: c, weight: 30))
            let terms = try t.evaluate(), grad = try t.grad.read()
            let (loss, g) = CPUFlow.temporal(start.doubles, Self.normalized(target), c.doubles, scale: 30 / Double(3 * w * h))
            XCTAssertEqual(Double(terms.temporal), loss, accuracy: 1e-4 * loss)
            XCTAssertEqual(terms.content, plain.content)
            XCTAssertEqual(terms.style, plain.style)
            XCTAssertEqual(terms.total, plain.total + terms.temporal, accuracy: 1e-5 * terms.total)
            assertClose(zip(grad, plainGrad).map { $0 - $1 }, g.floats, abs: 1e-6, rel: 1e-3, "the temporal gradient")
            results.append((terms, grad))
        }
        XCTAssertEqual(results[1].0.temporal, results[0].0.temporal, accuracy: 1e-5 * results[0].0.temporal, "tiled temporal loss")
        XCTAssertLessThan(relativeL2(results[1].1, results[0].1), 1e-4, "tiled gradient")
    }

    /// A synthetic clip (a pan and a moving object, 6 frames): with the temporal loss the
    /// stylized frames follow the motion at least 3x more closely than frames stylized independently.
    func testTemporalLossMakesAClipThreeTimesMoreConsistent() throws {
        let (w, h, frames) = (64, 48, 6)
        let run = Stylization(context: ctx, weights: try weights(), keepsWarm: true)
        let clip = SyntheticMotion.clip(photo: try photo("tubingen.jpg"), object: try photo("the_scream.jpg"), width: w, height: h, count: frames)
        let style = try photo("starry_night.jpg")
        func base(_ f: RGBImage, _ n: Int) -> StylizeRequest {
            var r = StylizeRequest(content: f, styles: [style], sizes: [(w, h)], iterations: [n])
            r.balance = [.content, .style]
            return r
        }
        let independentRun = try VideoStylization(stylization: run, width: w, height: h, settings: TemporalSettings(), frameIterations: 30)
        let observer = VideoStylization.WeightsObserver(independentRun)
        let independent = try clip.frames.map { f -> RGBImage in
            let (r, _) = try independentRun.request(frame: 0, base: base(f, 30), stylized: [:])
            return try run.run(r, observers: [observer]).picture.quantized
        }
        let video = try VideoStylization(stylization: run, width: w, height: h, settings: TemporalSettings(), frameIterations: 15)
        video.frameLearningRate = VideoStylization.defaultFrameLearningRate(for: base(clip.frames[0], 30))
        XCTAssertEqual(video.frameLearningRate, 0.03)
        // The frame loop `impasto video` runs, over frames in memory.
        let sink = MemoryFrameSink()
        let outcome = try video.run(.init(base: { content, _ in base(content, 30) }, key: "clip", passIterations: 8), source: MemoryFrames(clip.frames), sink: sink)
        XCTAssertEqual(outcome.frames, frames)
        XCTAssertFalse(outcome.interrupted)
        let consistent = sink.ordered
        let e0 = SyntheticMotion.temporalError(independent, clip: clip), e1 = SyntheticMotion.temporalError(consistent, clip: clip)
        print(String(format: "temporal error at %dx%d over %d frames: independent %.3f, temporal %.3f, ratio %.2f", w, h, frames, e0, e1, e0 / e1))
        XCTAssertGreaterThanOrEqual(e0 / e1, 3, "temporal error: independent \(e0), with the temporal loss \(e1) (8-bit levels)")
        // The first frames are the same run.
        XCTAssertEqual(consistent[0], independent[0])
    }
}
