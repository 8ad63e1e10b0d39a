import XCTest
@testable import Impasto

/// The device L-BFGS against a plain double-precision transcription of torch.optim.LBFGS's
/// loop (no line search), both driven by the engine's own loss and gradient.
final class LBFGSTests: XCTestCase {
    func testMatchesAReferenceTranscriptionOfTorch() throws {
        let golden = Golden.div8
        func model() throws -> WholeImageObjective {
            let m = try WholeImageObjective(context: TestEnv.context, weights: golden.weights(), width: 64, height: 48, config: golden.lossConfig)
            try m.setStyle(golden.array("input_style"))
            try m.setContent(golden.array("input_content"))
            return m
        }
        // History 2 so the ring evicts from step 3 on. Six steps: beyond them float and double
        // runs part ways (the objective is chaotic at rounding level; see GoldenTests).
        let history = 2, steps = 6, lr = 1.0
        // Device.
        let device = try model()
        let lbfgs = try LBFGS(objective: device, history: history)
        var deviceLosses: [Float] = []
        for i in 0..<steps {
            let reads = device.context.blockingReads
            deviceLosses.append(try lbfgs.step(lr: Float(lr)).0.total)
            // One round trip per step (the first step's ‖g‖₁, then y·s and y·y): the two-loop
            // recursion's inner products stay on the device.
            XCTAssertEqual(device.context.blockingReads - reads, 1, "blocking reads in step \(i)")
        }

        // Reference, evaluating the objective through a second model.
        let oracle = try model()
        var x = golden.array("input_content").doubles
        func evaluate(_ x: [Double]) throws -> (Double, [Double]) {
            try oracle.setImage(x.floats)
            let l = try oracle.evaluate()
            return (Double(l.total), try oracle.grad.read().doubles)
        }
        func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
        var d = [Double](), prevG = [Double](), t = 0.0, hDiag = 1.0
        var dirs: [[Double]] = [], stps: [[Double]] = [], ro: [Double] = []
        var refLosses: [Double] = []
        for i in 0..<steps {
            let (loss, g) = try evaluate(x)
            refLosses.append(loss)
            if i == 0 {
                d = g.map { -$0 }
                t = min(1, 1 / g.reduce(0) { $0 + abs($1) }) * lr
            } else {
                let y = zip(g, prevG).map { $0 - $1 }, s = d.map { $0 * t }
                let ys = dot(y, s)
                if ys > 1e-10 {
                    if dirs.count == history { dirs.removeFirst(); stps.removeFirst(); ro.removeFirst() }
                    dirs.append(y); stps.append(s); ro.append(1 / ys)
                    hDiag = ys / dot(y, y)
                }
                var q = g.map { -$0 }
                var al = [Double](repeating: 0, count: dirs.count)
                for j in stride(from: dirs.count - 1, through: 0, by: -1) {
                    al[j] = dot(stps[j], q) * ro[j]
                    q = zip(q, dirs[j]).map { $0 - al[j] * $1 }
                }
                var r = q.map { $0 * hDiag }
                for j in 0..<dirs.count {
                    let be = dot(dirs[j], r) * ro[j]
                    r = zip(r, stps[j]).map { $0 + (al[j] - be) * $1 }
                }
                d = r
                t = lr
            }
            prevG = g
            x = zip(x, d).map { $0 + t * $1 }
        }
        for i in 0..<steps {
            XCTAssertEqual(Double(deviceLosses[i]), refLosses[i], accuracy: 1e-4 * refLosses[i], "loss at step \(i)")
        }
        // On the golden data (post-ReLU taps) six steps take the loss from 5.43 to 3.38.
        XCTAssertLessThan(refLosses.last!, 0.7 * refLosses[0], "L-BFGS makes progress")
        XCTAssertLessThan(relativeL2(try device.x.read(), x.floats), 1e-4, "the iterates agree")
    }
}
