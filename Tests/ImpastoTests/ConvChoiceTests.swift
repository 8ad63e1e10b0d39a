import XCTest
@testable import Impasto

/// The per-layer convolution choice (`ConvChoices`): forced algorithms, the untimed rule,
/// timing once per shape and device with a cache file, and that every choice computes the
/// same objective.
final class ConvChoiceTests: XCTestCase {
    func freshContext() throws -> CLContext {
        try CLContext(device: TestEnv.context.device, settings: RuntimeSettings(cacheDirectory: try temporaryDirectory()))
    }

    func shape(_ cin: Int, _ cout: Int, _ w: Int, _ h: Int, backward: Bool = false) -> ConvShape {
        ConvShape(cin: cin, cout: cout, height: h, width: w, backward: backward)
    }

    /// Forced algorithms run where they can and fall back to direct where they cannot; `auto`
    /// on an untuned context is Winograd wherever it can run, and nothing is timed or written.
    func testForcedAlgorithmsAndTheUntimedRule() throws {
        let ctx = try freshContext(), k = try Kernels(context: ctx)
        let choices = ctx.convChoices
        let deep = shape(512, 512, 4, 3), rgb = shape(3, 64, 64, 48), gradient = shape(64, 3, 64, 48, backward: true)
        XCTAssertEqual(try choices.kernel(for: deep, algorithm: .auto, kernels: k), .winograd)
        XCTAssertEqual(try choices.kernel(for: rgb, algorithm: .auto, kernels: k), .direct)
        XCTAssertEqual(try choices.kernel(for: deep, algorithm: .direct, kernels: k), .direct)
        XCTAssertEqual(try choices.kernel(for: deep, algorithm: .smallMap, kernels: k), .small(px: 4, py: 2))
        XCTAssertEqual(try choices.kernel(for: rgb, algorithm: .winograd, kernels: k), .direct, "3 input channels")
        XCTAssertEqual(try choices.kernel(for: gradient, algorithm: .smallMap, kernels: k), .direct, "3 outputs do not fill a vector")
        XCTAssertEqual(try choices.kernel(for: rgb, algorithm: .smallMap, kernels: k), .small(px: 8, py: 2))
        XCTAssertEqual(choices.spentSeconds, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ctx.settings.convChoicesFile.path))
        XCTAssertEqual(choices.reason(for: deep), "winograd (untimed)")
    }

    /// A tuned context times a new shape once, among its candidates, and caches it by device
    /// (with other devices' entries kept); a second context reads it back without timing; maps
    /// larger than the timed side share the capped shape's entry.
    func testChoicesAreTimedOnceAndCached() throws {
        let ctx = try freshContext(), k = try Kernels(context: ctx)
        let file = ctx.settings.convChoicesFile
        try Data(#"{"another-device": {"fwd 8->8 8x8": "direct"}}"#.utf8).write(to: file)
        let key = Autotune.key(for: ctx.device)
        ctx.convChoices.enable(deviceKey: key, file: file)
        let deep = shape(32, 32, 8, 6), wide = shape(16, 16, 70, 20)
        let chosen = try ctx.convChoices.kernel(for: deep, algorithm: .auto, kernels: k)
        XCTAssertTrue(ConvKernel.candidates(for: deep).contains(chosen), "\(chosen)")
        XCTAssertEqual(ctx.convChoices.reason(for: deep), "\(chosen) (timed now)")
        let wideChoice = try ctx.convChoices.kernel(for: wide, algorithm: .auto, kernels: k)
        XCTAssertGreaterThan(ctx.convChoices.spentSeconds, 0)
        let stored = try JSONDecoder().decode([String: [String: String]].self, from: Data(contentsOf: file))
        XCTAssertEqual(stored[key]?["fwd 32->32 8x6"], chosen.description)
        XCTAssertEqual(stored[key]?["fwd 16->16 64x20"], wideChoice.description, "timed at the capped side")
        XCTAssertEqual(stored["another-device"], ["fwd 8->8 8x8": "direct"])
        // Every candidate's time is kept, for `impasto plan`; a larger map scales by its pixels.
        for candidate in ConvKernel.candidates(for: deep) {
            XCTAssertGreaterThan(Double(stored[key]?["fwd 32->32 8x6 \(candidate) s"] ?? "") ?? 0, 0, "\(candidate)")
        }
        let atTimed = try XCTUnwrap(ctx.convChoices.estimatedSeconds(for: shape(16, 16, 64, 20), kernel: wideChoice))
        XCTAssertEqual(try XCTUnwrap(ctx.convChoices.estimatedSeconds(for: wide, kernel: wideChoice)), atTimed * 70 / 64, accuracy: atTimed * 1e-9)

        let again = try freshContextSharing(ctx)
        again.convChoices.enable(deviceKey: key, file: file)
        let k2 = try Kernels(context: again)
        XCTAssertEqual(try again.convChoices.kernel(for: deep, algorithm: .auto, kernels: k2), chosen)
        XCTAssertEqual(try again.convChoices.kernel(for: shape(16, 16, 90, 20), algorithm: .auto, kernels: k2), wideChoice)
        XCTAssertEqual(again.convChoices.reason(for: deep), "\(chosen) (cached)")
        XCTAssertEqual(again.convChoices.spentSeconds, 0, "nothing timed again")
        // A forced algorithm is not looked up.
        XCTAssertEqual(try again.convChoices.kernel(for: deep, algorithm: .direct, kernels: k2), .direct)
        // Contexts of one device key and file share their choices in the process (two devices
        // of one kind paint the same bits): a third one needs neither the file nor a timing.
        try FileManager.default.removeItem(at: file)
        let third = try freshContextSharing(ctx)
        third.convChoices.enable(deviceKey: key, file: file)
        XCTAssertEqual(try third.convChoices.kernel(for: deep, algorithm: .auto, kernels: try Kernels(context: third)), chosen)
        XCTAssertEqual(third.convChoices.reason(for: deep), "\(chosen) (cached)")
    }

    func freshContextSharing(_ other: CLContext) throws -> CLContext {
        try CLContext(device: other.device, settings: other.settings)
    }

    /// Cached text that names no kernel is not trusted.
    func testKernelNamesRoundTrip() {
        for kernel in [ConvKernel.winograd, .direct] + ConvKernel.smallBlocks.map({ ConvKernel.small(px: $0.0, py: $0.1) }) {
            XCTAssertEqual(ConvKernel(kernel.description), kernel)
        }
        for bad in ["", "small", "small-3x3", "small-4x", "fft", "small-4x2-1"] { XCTAssertNil(ConvKernel(bad), bad) }
    }

    /// The whole objective (losses and gradient) is the same on every algorithm, forced
    /// everywhere (up to rounding): the choice can make a run slower, never different.
    func testEveryAlgorithmGivesTheSameObjective() throws {
        let ctx = TestEnv.context
        let weights = try VGGWeights.random(seed: 5, widthDivisor: 4)
        let (w, h) = (48, 40)
        let content = SampleImages.landscape().resized(width: w, height: h), style = SampleImages.swirls().resized(width: w, height: h)
        var reference: (LossTerms, [Float])?
        for algorithm in [ConvAlgorithm.direct, .winograd, .smallMap] {
            var config = LossConfig()
            config.convolution = algorithm
            let model = try WholeImageObjective(context: ctx, weights: weights, width: w, height: h, config: config)
            try model.setStyles([StyleSource(picture: style)])
            try model.setContent(content)
            model.setWeights(LossWeights(content: 1, style: 1e3, tv: 1))
            var rng = TestRNG(4)
            try model.setImage(try model.x.read().map { $0 + 0.2 * rng.float() })
            let terms = try model.evaluate(), grad = try model.grad.read()
            let kernels = model.network.graph.nodes.compactMap { $0.op as? ConvOp }.flatMap { [$0.forwardKernel, $0.backwardKernel] }
            switch algorithm {
            case .smallMap: XCTAssertTrue(kernels.contains { if case .small = $0 { return true } else { return false } })
            case .winograd: XCTAssertTrue(kernels.contains(.winograd))
            default: XCTAssertTrue(kernels.allSatisfy { $0 == .direct })
            }
            guard let (t0, g0) = reference else { reference = (terms, grad); continue }
            for (name, a, b) in [("content", t0.content, terms.content), ("style", t0.style, terms.style), ("tv", t0.tv, terms.tv)] {
                XCTAssertEqual(b, a, accuracy: 1e-4 * abs(a), "\(algorithm): \(name)")
            }
            XCTAssertLessThan(relativeL2(grad, g0), 1e-4, "\(algorithm): gradient")
        }
    }
}
