import XCTest
@testable import Impasto

/// A run stopped and resumed from its checkpoint ends with exactly the picture of a run that
/// never stopped: Adam and L-BFGS, stopped within a scale of a coarse-to-fine run and at a
/// scale's end; the checkpoint survives its file; a checkpoint of another run is refused.
final class CheckpointTests: XCTestCase {
    let golden = Golden.div8

    func request(_ optimizer: StylizeRequest.OptimizerChoice, averaging: IterateAveraging? = nil) throws -> StylizeRequest {
        var r = StylizeRequest(content: try ImageFile.read(golden.dir.appendingPathComponent("content.png").path),
                               styles: [try ImageFile.read(golden.dir.appendingPathComponent("style.png").path)],
                               sizes: [(24, 16), (48, 32)], iterations: [4, 3])
        r.optimizer = optimizer
        r.start = .noise(seed: 9)
        r.averaging = averaging
        return r
    }

    func testResumedRunsEndWithTheSamePicture() throws {
        let stylization = Stylization(context: TestEnv.context, weights: try golden.weights())
        let file = try temporaryDirectory().appendingPathComponent("run.checkpoint")
        for (optimizer, averaging) in [(StylizeRequest.OptimizerChoice.adam, nil), (.lbfgs(history: 2), nil),
                                       (.adam, IterateAveraging.decay(0.6)), (.lbfgs(history: 2), .decay(0.6))] {
            let r = try request(optimizer, averaging: averaging)
            let whole = try stylization.run(r)
            for stopAfter in [2, 4, 6] {  // within the first scale, at its end, within the second
                var saved: StylizeCheckpoint?
                var seen = 0
                let policy = StylizeCheckpoint.Policy(tag: "t") { saved = $0; try $0.write(to: file) }
                let first = try stylization.run(r, shouldStop: { seen += 1; return seen == stopAfter }, checkpoints: policy)
                XCTAssertTrue(first.interrupted)
                XCTAssertEqual(first.iterations, stopAfter)
                XCTAssertEqual(saved?.iteration, stopAfter)
                let fromFile = try StylizeCheckpoint.read(from: file)
                let resumed = try stylization.run(r, checkpoints: StylizeCheckpoint.Policy(tag: "t", resume: fromFile) { _ in })
                XCTAssertFalse(resumed.interrupted)
                XCTAssertEqual(resumed.iterations, 7)
                XCTAssertEqual(saved?.average != nil, averaging != nil)
                XCTAssertEqual(resumed.picture.pixels, whole.picture.pixels, "\(optimizer), \(String(describing: averaging)), stopped after \(stopAfter)")
                XCTAssertEqual(resumed.losses, whole.losses)
            }
        }
        // Every N iterations, and a checkpoint of another run refused.
        var count = 0
        _ = try stylization.run(try request(.adam), checkpoints: StylizeCheckpoint.Policy(tag: "t", every: 3) { _ in count += 1 })
        XCTAssertEqual(count, 2, "after iterations 3 and 6")
        let other = try StylizeCheckpoint.read(from: file)
        XCTAssertThrowsError(try stylization.run(try request(.adam), checkpoints: StylizeCheckpoint.Policy(tag: "u", resume: other) { _ in })) {
            XCTAssertTrue("\($0)".contains("another run"), "\($0)")
        }
        try Data("impasto checkpoint 1\n{}".utf8).write(to: file)
        XCTAssertThrowsError(try StylizeCheckpoint.read(from: file)) { XCTAssertTrue("\($0)".contains("not an impasto checkpoint"), "\($0)") }
    }
}
