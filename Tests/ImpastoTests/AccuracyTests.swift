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
        var config = Golden.div8.lossConfig
        config.convolution = .direct
        let d = try goldenRun(config, check: { model in
            XCTAssertFalse(model.network.graph.nodes.contains { ($0.op as? ConvOp)?.usesWinograd == true })
        })
        print("golden trajectory vs float64 with --conv direct: \(d)")
        XCTAssertLessThanOrEqual(d.trajectory.impasto, 2 * d.trajectory.pytorch, "\(d)")
        XCTAssertLessThanOrEqual(d.image.impasto, 2 * d.image.pytorch, "\(d)")
    }

    /// `--storage fp16` on the golden data, where the device has cl_khr_fp16 (elsewhere the
    /// refusal is HalfStorageTests' business). fp16 cannot meet design.md §2's 2x rule: the
    /// loop amplifies rounding (PyTorch's float32 alone ends 1.25% from float64), and rounding
    /// activations to 11 bits moves ReLU and max-pool decisions near their kinks, which moves
    /// the first gradient by about 5% (in a few pixels: 20 pixels hold 70% of the squared
    /// difference at relu1_2). What must hold: that first gradient within 10%, and the run
    /// converging: its final image, judged by the fp32 objective, no more than 3% worse than
    /// float64's final image (measured: 3.1% better). The distances go to the README.
    func testHalfStorageRunConverges() throws {
        var config = Golden.div8.lossConfig
        config.storage = .fp16
        guard ctx.device.hasFP16 else {
            XCTAssertThrowsError(try goldenRun(config)) { XCTAssertTrue("\($0)".contains("cl_khr_fp16"), "\($0)") }
            return
        }
        let golden = Golden.div8, exact = golden.float64
        // The first gradient, next to fp32 storage's, from PyTorch's (float32, whose own
        // rounding is far smaller).
        var step0: [Double] = []
        for storage in [Storage.fp32, .fp16] {
            var c = config
            c.storage = storage
            let model = try WholeImageObjective(context: ctx, weights: golden.weights(), width: golden.width, height: golden.height, config: c)
            try model.setStyle(golden.array("input_style"))
            try model.setContent(golden.array("input_content"))
            _ = try model.evaluate()
            step0.append(relativeL2Double(try model.grad.read(), golden.array("grad_step0").map(Double.init)))
        }
        var finalImage: [Float] = []
        let d = try goldenRun(config, last: { finalImage = try $0.x.read() })
        let judge = try WholeImageObjective(context: ctx, weights: golden.weights(), width: golden.width, height: golden.height, config: golden.lossConfig)
        try judge.setStyle(golden.array("input_style"))
        try judge.setContent(golden.array("input_content"))
        try judge.setImage(finalImage)
        let finalTotal = Double(try judge.evaluate().total)
        // float64's last step reports the loss before its last update: judge its final image too.
        try judge.setImage(exact.array("final_image"))
        let reference = Double(try judge.evaluate().total)
        print(String(format: "fp16 storage: grad_step0 %.2e from PyTorch's (fp32 storage %.2e), final image's fp32 loss %.5g vs float64's final image %.5g (%+.2f%%); ",
                     step0[1], step0[0], finalTotal, reference, 100 * (finalTotal / reference - 1)) + "against float64: \(d)")
        XCTAssertLessThan(step0[1], 0.1, "fp16 storage's first gradient")
        XCTAssertLessThanOrEqual(finalTotal, 1.03 * reference, "fp16 storage's final image is worse by the objective")
        XCTAssertGreaterThan(finalTotal, 0.5 * reference, "a loss this low means the judge is broken")
    }

    /// The golden trajectory with `config`, and its distances from the float64 run.
    func goldenRun(_ config: LossConfig, check: (WholeImageObjective) -> Void = { _ in },
                   last: (WholeImageObjective) throws -> Void = { _ in }) throws -> GoldenDistances {
        let golden = Golden.div8
        let model = try WholeImageObjective(context: ctx, weights: golden.weights(), width: golden.width, height: golden.height, config: config)
        check(model)
        try model.setStyle(golden.array("input_style"))
        try model.setContent(golden.array("input_content"))
        let adam = try AdamOptimizer(objective: model)
        var totals: [Double] = []
        let lr0 = golden.number("lr"), period = Int(golden.number("lr_decay_epoch")), gamma = golden.number("lr_decay_gamma")
        for i in golden.trajectory.indices { totals.append(Double(try adam.step(rate: Double(Float(lr0 * pow(gamma, Double(i / period))))).0.total)) }
        try last(model)
        return GoldenDistances(golden: golden, exact: golden.float64, totals: totals, finalImage: try model.x.read())
    }

    func relativeL2Double(_ a: [Float], _ e: [Double]) -> Double {
        var num = 0.0, den = 0.0
        for (x, y) in zip(a, e) { num += (Double(x) - y) * (Double(x) - y); den += y * y }
        return (num / den).squareRoot()
    }
}
