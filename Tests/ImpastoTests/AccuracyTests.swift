import XCTest
@testable import Impasto

/// How far each convolution algorithm is from a float64 CPU convolution at VGG19's channel
/// counts (the README's "Accuracy" table), and the golden run with each algorithm against
/// the float64 run of the reference. Bounds, not timings.
final class AccuracyTests: XCTestCase {
    var ctx: CLContext { TestEnv.context }

    /// Forward relative L2 error at conv1_2 (64→64), conv3_2 (256→256) and conv5_1 (512→512)
    /// channel counts on small maps (the error depends on the channels summed, not the map
    /// size): inputs like activations (half zeros, half positive), He-initialised weights.
    func testConvolutionErrorAgainstFloat64() throws {
        let k = try Kernels(context: ctx)
        var rng = TestRNG(40)
        for (name, c, h, w) in [("conv1_2", 64, 20, 24), ("conv3_2", 256, 10, 12), ("conv5_1", 512, 6, 8)] {
            let x = rng.floats(c * h * w).map { max($0, 0) }
            let wt = rng.floats(c * c * 9, scale: (6 / Float(9 * c)).squareRoot())  // uniform with He's variance
            let b = rng.floats(c, scale: 0.05)
            let exact = CPURef.conv3x3(x.doubles, wt.doubles, b.doubles, cin: c, cout: c, h: h, w: w)
            let input = try ctx.buffer(x), bias = try ctx.buffer(ConvLayout.paddedBias(b))
            let direct = try ctx.buffer(floats: c * h * w), winograd = try ctx.buffer(floats: c * h * w)
            try k.conv3x3(input: input, weights: ctx.buffer(ConvLayout.forward(wt, cout: c, cin: c)), bias: bias,
                          output: direct, cin: c, cout: c, height: h, width: w)
            try k.winogradConv(input: input, weights: ctx.buffer(wt), flipped: false, bias: bias, output: winograd,
                               cin: c, cout: c, height: h, width: w, scratch: WinogradScratch())
            let errors = (try relativeL2Double(direct.read(), exact), try relativeL2Double(winograd.read(), exact))
            print(String(format: "conv accuracy %@ (%d→%d): direct %.2e, Winograd F(4x4,3x3) %.2e relative L2 from float64",
                         name, c, c, errors.0, errors.1))
            XCTAssertLessThan(errors.0, 2e-6, "\(name) direct")
            XCTAssertLessThan(errors.1, 1e-5, "\(name) Winograd")
            XCTAssertLessThan(errors.0, errors.1, "\(name): direct is the more precise")
        }
    }

    /// `--conv direct` on the golden data, held to design.md §2's rule like the default (at
    /// most twice PyTorch float32's own distance from the float64 run). Measured: on POCL 3.1
    /// 1.16% / 4.80 levels (closer than PyTorch's 1.25% / 4.94), on Intel's CPU runtime
    /// 1.36% / 4.26: the loop is chaotic, so being closer than PyTorch is not guaranteed.
    func testDirectConvolutionRunMeetsTheGoldenRule() throws {
        let golden = Golden.div8
        var config = golden.lossConfig
        config.convolution = .direct
        let model = try StyleTransfer(context: ctx, weights: golden.weights(), width: golden.width, height: golden.height, config: config)
        XCTAssertFalse(model.executorGraph.nodes.contains { ($0.op as? ConvOp)?.isWinograd == true })
        try model.setStyle(golden.array("input_style"))
        try model.setContent(golden.array("input_content"))
        var totals: [Double] = []
        let lr0 = golden.number("lr"), period = Int(golden.number("lr_decay_epoch")), gamma = golden.number("lr_decay_gamma")
        for i in golden.trajectory.indices { totals.append(Double(try model.step(lr: Float(lr0 * pow(gamma, Double(i / period)))).total)) }
        let d = GoldenDistances(golden: golden, exact: golden.float64, totals: totals, finalImage: try model.image())
        print("golden trajectory vs float64 with --conv direct: \(d)")
        XCTAssertLessThanOrEqual(d.trajectory.impasto, 2 * d.trajectory.pytorch, "\(d)")
        XCTAssertLessThanOrEqual(d.image.impasto, 2 * d.image.pytorch, "\(d)")
    }

    func relativeL2Double(_ a: [Float], _ e: [Double]) -> Double {
        var num = 0.0, den = 0.0
        for (x, y) in zip(a, e) { num += (Double(x) - y) * (Double(x) - y); den += y * y }
        return (num / den).squareRoot()
    }
}
