import XCTest
@testable import Impasto

/// `--average-iterates`: the device's running mean against the host's bias-corrected
/// exponential moving average, and a run's result being the average of its iterates.
final class IterateAverageTests: XCTestCase {
    var ctx: CLContext { TestEnv.context }

    /// Σᵢ dᵏ⁻ⁱ(1 − d)·xᵢ / (1 − dᵏ) over the iterates so far, in float64.
    func hostAverage(_ xs: [[Float]], decay d: Double) -> [Double] {
        let k = xs.count, norm = 1 - pow(d, Double(k))
        return (0..<xs[0].count).map { j in
            xs.enumerated().reduce(0.0) { $0 + pow(d, Double(k - 1 - $1.offset)) * (1 - d) * Double($1.element[j]) } / norm
        }
    }

    func testDeviceAverageIsTheBiasCorrectedEMA() throws {
        var rng = TestRNG(70)
        let n = 257, kernels = try Kernels(context: ctx)
        for d in [0.0, 0.5, 0.9] {
            let average = try IterateAverage(kernels: kernels, pixels: n, decay: d), x = try ctx.buffer(floats: n)
            var xs: [[Float]] = []
            for _ in 0..<6 {
                xs.append(rng.floats(n))
                try x.write(xs.last!)
                try average.update(x)
                assertClose(try average.mean.read(), hostAverage(xs, decay: d).floats, abs: 1e-6, rel: 1e-5, "decay \(d), \(xs.count) updates")
            }
        }
        XCTAssertEqual(IterateAveraging.auto.decay(iterations: 500), 0.98, accuracy: 1e-12)
        XCTAssertEqual(IterateAveraging.auto.decay(iterations: 100), 0.9, accuracy: 1e-12)
        XCTAssertEqual(IterateAveraging.auto.decay(iterations: 8), 0)
        XCTAssertThrowsError(try IterateAveraging(parsing: "1"))
        XCTAssertThrowsError(try IterateAveraging(parsing: "-0.1"))
        XCTAssertEqual(try IterateAveraging(parsing: "0.95"), .decay(0.95))
    }

    /// A run's checkpoints after every iteration hold X and the average: the average is the
    /// host's EMA of those X, and the run returns the average's picture, not the last X's.
    func testRunReturnsTheAverageOfItsIterates() throws {
        let golden = Golden.div8
        var r = StylizeRequest(content: try ImageFile.read(golden.dir.appendingPathComponent("content.png").path),
                               styles: [try ImageFile.read(golden.dir.appendingPathComponent("style.png").path)],
                               sizes: [(48, 32)], iterations: [6])
        r.averaging = .decay(0.7)
        var xs: [[Float]] = [], means: [[Float]] = []
        let policy = StylizeCheckpoint.Policy(tag: "t", every: 1) { c in
            xs.append(c.x)
            means.append(try XCTUnwrap(c.average).mean)
            XCTAssertEqual(c.average?.steps, c.step)
        }
        let result = try Stylization(context: ctx, weights: try golden.weights()).run(r, checkpoints: policy)
        XCTAssertEqual(xs.count, 6)
        for k in 1...6 { assertClose(means[k - 1], hostAverage(Array(xs.prefix(k)), decay: 0.7).floats, abs: 1e-5, rel: 1e-4, "after \(k)") }
        let image = try OptimizedImage(kernels: try Kernels(context: ctx), width: 48, height: 32)
        let mean = try ctx.buffer(means.last!)
        XCTAssertEqual(result.picture.pixels, try image.picture(of: mean).pixels, "the result is the average's picture")
        let last = try image.picture(of: try ctx.buffer(xs.last!))
        XCTAssertGreaterThan(zip(last.pixels, result.picture.pixels).map { abs($0 - $1) }.max() ?? 0, 1e-3, "not the last iterate's")
        // A checkpoint without an average does not resume a run that averages.
        var plain = r
        plain.averaging = nil
        var saved: StylizeCheckpoint?
        _ = try Stylization(context: ctx, weights: try golden.weights()).run(plain, checkpoints: StylizeCheckpoint.Policy(tag: "t", every: 3) { saved = $0 })
        XCTAssertThrowsError(try Stylization(context: ctx, weights: try golden.weights())
            .run(r, checkpoints: StylizeCheckpoint.Policy(tag: "t", resume: try XCTUnwrap(saved)) { _ in })) {
            XCTAssertTrue("\($0)".contains("averaging"), "\($0)")
        }
    }
}
