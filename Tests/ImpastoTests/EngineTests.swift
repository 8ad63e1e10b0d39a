import XCTest
@testable import Impasto

/// The graph executor and its memory plan, on a narrow random VGG19 and odd image sizes.
final class EngineTests: XCTestCase {
    var ctx: CLContext { TestEnv.context }

    /// Odd sizes (every pool drops a row or column) through the whole objective: losses and
    /// ∂total/∂X against the double-precision CPU objective and its finite differences. With
    /// the default taps (after the ReLUs: every ReLU fused into its conv) and with the
    /// pre-ReLU taps (separate ReLUs, and conv1_1's style backward computed from the image).
    func testWholeObjectiveOnOddSizesAgainstCPU() throws {
        try checkWholeObjective(styleLayers: VGG19.defaultStyleLayers, contentLayers: VGG19.defaultContentLayers)
        try checkWholeObjective(styleLayers: [0, 5, 10, 19, 28], contentLayers: [25])
    }

    func checkWholeObjective(styleLayers: [Int], contentLayers: [Int]) throws {
        let (w, h) = (23, 19)
        let weights = try VGGWeights.random(seed: 3, widthDivisor: 16)
        var config = LossConfig()
        config.styleLayers = styleLayers
        config.contentLayers = contentLayers
        var rng = TestRNG(30)
        let style = rng.floats(3 * w * h), content = rng.floats(3 * w * h), start = rng.floats(3 * w * h)
        let model = try WholeImageObjective(context: ctx, weights: weights, width: w, height: h, config: config)
        let lossWeights = LossWeights(content: 10, style: 1e3, tv: 10)  // balanced so each gradient part is visible
        model.setWeights(lossWeights)
        try model.setStyle(style)
        try model.setContent(content)
        try model.setImage(start)
        let got = try model.evaluate()
        let grad = try model.grad.read()

        var cpu = CPUStyleObjective(weights: weights, config: config, lossWeights: lossWeights, h: h, w: w)
        cpu.setTargets(style: style.doubles, content: content.doubles)
        let want = cpu.loss(start.doubles)
        XCTAssertEqual(Double(got.content), want.content, accuracy: 1e-4 * want.content)
        XCTAssertEqual(Double(got.style), want.style, accuracy: 1e-4 * want.style)
        XCTAssertEqual(Double(got.tv), want.tv, accuracy: 1e-4 * want.tv)

        let probe = Array(Set((0..<8).map { _ in Int(rng.next() % UInt64(start.count)) })).sorted()
        let numeric = CPURef.numericGradient(start.doubles, at: probe, step: 1e-4) {
            let l = cpu.loss($0)
            return l.content + l.style + l.tv
        }
        for (num, i) in zip(numeric, probe) {
            XCTAssertEqual(Double(grad[i]), num, accuracy: 2e-3 * abs(num) + 1e-5, "∂total/∂x[\(i)]")
        }
    }

    func testIterationsAllocateNothingAndTheStepMoves() throws {
        let model = try WholeImageObjective(context: ctx, weights: VGGWeights.random(seed: 4, widthDivisor: 16), width: 40, height: 32)
        var rng = TestRNG(31)
        try model.setStyle(rng.floats(3 * 40 * 32))
        try model.setContent(rng.floats(3 * 40 * 32))
        let before = try model.x.read()
        let adam = try AdamOptimizer(objective: model)
        _ = try adam.step(rate: 0.3)
        let created = ctx.buffersCreated
        var last = LossTerms(content: 0, style: 0, tv: 0)
        for _ in 0..<3 { last = try adam.step(rate: 0.3).0 }
        XCTAssertEqual(ctx.buffersCreated, created, "an iteration created device buffers")
        XCTAssertGreaterThan(last.content, 0)
        XCTAssertNotEqual(try model.x.read(), before)
    }

    /// A ReLU fused into its Winograd conv (forward max and mask, backward through the mask)
    /// computes exactly what the separate ReLU op does: the same losses and gradient, bit for
    /// bit, as the network built with every conv's output kept (nothing fused).
    func testFusedReLUsChangeNothing() throws {
        let weights = try VGGWeights.random(seed: 6, widthDivisor: 4)
        var rng = TestRNG(32)
        let style = rng.floats(3 * 72 * 40), content = rng.floats(3 * 72 * 40)
        var results: [(LossTerms, [Float])] = []
        for keep in [Set<Int>(), Set(VGG19.convIndices)] {
            let model = try WholeImageObjective(context: ctx, weights: weights, width: 72, height: 40, retainModules: keep)
            XCTAssertEqual(model.network.graph.nodes.contains { ($0.op as? ConvOp)?.reluMask != nil }, keep.isEmpty)
            try model.setStyle(style)
            try model.setContent(content)
            results.append((try model.evaluate(), try model.grad.read()))
        }
        XCTAssertEqual(results[0].0, results[1].0)
        XCTAssertEqual(results[0].1, results[1].1)
    }

    func testPlanReusesMemoryAndRunsReLUInPlace() throws {
        let model = try WholeImageObjective(context: ctx, weights: VGGWeights.random(seed: 5, widthDivisor: 8), width: 64, height: 48)
        let g = model.network.graph
        let plan = model.network.plan
        // Every tensor's value and gradient, each in its own buffer, is what a naive engine holds.
        let naive = g.shapes.indices.filter { !g.external.contains($0) }.reduce(0) { $0 + 2 * g.shapes[$1].count * 4 }
        XCTAssertLessThan(plan.totalBytes, naive / 2, "plan \(plan.totalBytes) B vs naive \(naive) B")
        // With the default taps, all after a ReLU (or conv5_1, which has none), each of the 12
        // ReLUs is fused into its conv, the direct conv1_1 and conv1_2 (8 channels at width/8)
        // included: no separate ReLU pass remains.
        XCTAssertEqual(g.nodes.filter { $0.op is ReLUOp }.map(\.op.name), [])
        XCTAssertEqual(g.nodes.filter { ($0.op as? ConvOp)?.reluMask != nil }.count, 12)
        // relu1_1, a style tap, is not kept for style1's backward (which recomputes it from the
        // image in a lent slot): its slot holds other tensors after conv1_2 has read it.
        let relu11 = model.network.moduleOutputs[1]!
        XCTAssertTrue(g.shapes.indices.contains { $0 != relu11 && plan.valueSlot[$0] == plan.valueSlot[relu11] })
        let style1 = try XCTUnwrap(g.nodes.firstIndex { $0.op.name == "style1" })
        XCTAssertNotNil(plan.workspaceSlot[style1])
        XCTAssertNil(plan.workspaceSlot[try XCTUnwrap(g.nodes.firstIndex { $0.op.name == "style6" })])
        // Pre-ReLU taps keep their ReLU apart; one whose input nothing else reads runs in place.
        var preReLU = LossConfig()
        preReLU.styleLayers = [0, 5]
        preReLU.contentLayers = [7]
        let tapped = try WholeImageObjective(context: ctx, weights: VGGWeights.random(seed: 5, widthDivisor: 8), width: 64, height: 48,
                                       config: preReLU)
        let relus = tapped.network.graph.nodes.filter { $0.op is ReLUOp }
        XCTAssertEqual(relus.map(\.op.name), ["1:relu1_1", "6:relu2_1"])  // the net ends at conv2_2, the content tap
        // relu1_1 in place: style0's backward recomputes from the image instead of reading conv1_1's output.
        XCTAssertEqual(relus.filter { tapped.network.plan.valueSlot[$0.inputs[0]] == tapped.network.plan.valueSlot[$0.output!] }.map(\.op.name), ["1:relu1_1"])
        // No two live values share a slot: checked by the golden and CPU tests' numbers; here,
        // a retained tensor never shares.
        let retained = try WholeImageObjective(context: ctx, weights: VGGWeights.random(seed: 5, widthDivisor: 8),
                                         width: 64, height: 48, retainModules: [2])
        let t = retained.network.moduleOutputs[2]!
        let others = retained.network.graph.shapes.indices.filter { $0 != t }
        XCTAssertFalse(others.contains { retained.network.plan.valueSlot[$0] == retained.network.plan.valueSlot[t] && retained.network.plan.valueSlot[t] != nil })
    }

    func testTooSmallImagesAreRefused() throws {
        XCTAssertThrowsError(try WholeImageObjective(context: ctx, weights: VGGWeights.random(seed: 1, widthDivisor: 16), width: 15, height: 40)) {
            XCTAssertTrue("\($0)".contains("too small"))
        }
    }

    func testLayerNames() {
        XCTAssertEqual(VGG19.name(of: 0), "conv1_1")
        XCTAssertEqual(VGG19.name(of: 1), "relu1_1")
        XCTAssertEqual(VGG19.name(of: 4), "pool1")
        XCTAssertEqual(VGG19.name(of: 12), "conv3_2")
        XCTAssertEqual(VGG19.name(of: 25), "conv4_4")
        XCTAssertEqual(VGG19.name(of: 28), "conv5_1")
    }
}
