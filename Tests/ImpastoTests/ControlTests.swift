import XCTest
@testable import Impasto

/// The controls beyond the seed: each option's effect, not just that it runs.
final class ControlTests: XCTestCase {
    let golden = Golden.div8
    var tmp: URL!
    override func setUpWithError() throws { tmp = try temporaryDirectory() }
    func path(_ n: String) -> String { tmp.appendingPathComponent(n).path }
    var content: String { golden.dir.appendingPathComponent("content.png").path }
    var style: String { golden.dir.appendingPathComponent("style.png").path }
    var scream: String { TestEnv.shared.appendingPathComponent("images/the_scream.jpg").path }

    /// A 64x48 run of the library with the golden net, `configure`d.
    func stylize(_ styles: [String], iterations: Int = 3, _ configure: (inout StylizeRequest) throws -> Void = { _ in }) throws -> RGBImage {
        var request = StylizeRequest(content: try ImageFile.read(content), styles: try styles.map { try ImageFile.read($0) },
                                     sizes: [(64, 48)], iterations: [iterations])
        try configure(&request)
        return try Stylization(context: TestEnv.context, weights: try golden.weights()).run(request).picture
    }

    func testBlendOneZeroEqualsTheFirstStyleAlone() throws {
        let alone = try stylize([style])
        let blended = try stylize([style, scream]) { $0.styleBlend = [1, 0] }
        XCTAssertEqual(alone.pixels, blended.pixels)
        let mixed = try stylize([style, scream]) { $0.styleBlend = [1, 1] }
        XCTAssertNotEqual(alone.pixels, mixed.pixels)
    }

    func testSameSeedSameResultOtherSeedOtherResult() throws {
        let a = try stylize([style]) { $0.start = .noise(seed: 5) }
        let b = try stylize([style]) { $0.start = .noise(seed: 5) }
        let c = try stylize([style]) { $0.start = .noise(seed: 6) }
        XCTAssertEqual(a.pixels, b.pixels)
        XCTAssertNotEqual(a.pixels, c.pixels)
        let stylePicture = try ImageFile.read(style)
        let fromStyle = try stylize([style], iterations: 0) { $0.start = .style }
        XCTAssertEqual(fromStyle.bytes, stylePicture.bytes, "start from the style, 0 iterations, is the style")
        let fromPicture = try stylize([scream], iterations: 0) { $0.start = .picture(stylePicture) }
        XCTAssertEqual(fromPicture.bytes, stylePicture.bytes, "start from a picture: 0 iterations give it back")
    }

    func testLuminanceModeKeepsTheContentsChroma() throws {
        let out = try stylize([scream], iterations: 10) { $0.colors = .luminance }
        let base = try ImageFile.read(content)
        var worst: Float = 0, moved: Float = 0
        for k in stride(from: 0, to: out.pixels.count, by: 3) {
            let o = ColorTransfer.yiq(out.pixels[k], out.pixels[k + 1], out.pixels[k + 2])
            let c = ColorTransfer.yiq(base.pixels[k], base.pixels[k + 1], base.pixels[k + 2])
            // Where no channel clipped, I and Q are the content's.
            if out.pixels[k..<(k + 3)].allSatisfy({ $0 > 0.01 && $0 < 0.99 }) {
                worst = max(worst, abs(o.1 - c.1), abs(o.2 - c.2))
            }
            moved = max(moved, abs(o.0 - c.0))
        }
        XCTAssertLessThan(worst, 1e-4, "chroma differs from the content's")
        XCTAssertGreaterThan(moved, 0.05, "the luminance was stylized")
    }

    func testHistogramMatchingGivesTheContentsColourStatistics() throws {
        let c = try ImageFile.read(content), s = try ImageFile.read(scream).resized(width: 64, height: 48)
        let matched = ColorTransfer.matchHistogram(s, to: c)
        let (mc, cc) = ColorTransfer.meanCovariance(c), (mm, cm) = ColorTransfer.meanCovariance(matched)
        for i in 0..<3 {
            XCTAssertEqual(mm[i], mc[i], accuracy: 0.01)
            for j in 0..<3 { XCTAssertEqual(cm[i][j], cc[i][j], accuracy: 0.004) }
        }
        let plain = try stylize([scream]), histogram = try stylize([scream]) { $0.colors = .histogram }
        XCTAssertNotEqual(plain.pixels, histogram.pixels, "the matched style paints differently")
    }

    func testAveragePoolingChangesTheResult() throws {
        let avg = try stylize([style]) { $0.loss.pooling = .avg }
        let max = try stylize([style])
        XCTAssertNotEqual(avg.pixels, max.pixels)
    }

    /// Named layers and per-layer weights: the style term with weights (2, 0) on
    /// (conv1_1, relu2_1) is twice the term of conv1_1 alone.
    func testLayerSelectionAndWeights() throws {
        var one = golden.lossConfig
        one.styleLayers = [try VGG19.index(of: "conv1_1")]
        var two = golden.lossConfig
        two.styleLayers = [0, try VGG19.index(of: "RELU2_1")]
        two.styleLayerWeights = [2, 0]
        var terms: [LossTerms] = []
        for config in [one, two] {
            let m = try WholeImageObjective(context: TestEnv.context, weights: golden.weights(), width: 64, height: 48, config: config)
            try m.setStyle(golden.array("input_style"))
            try m.setContent(golden.array("input_content"))
            terms.append(try m.evaluate())
        }
        XCTAssertEqual(terms[1].style, 2 * terms[0].style, accuracy: 1e-5 * terms[0].style)
        XCTAssertThrowsError(try VGG19.index(of: "conv5_2"))
    }

    /// --style-scale: the targets are the Gram matrices of the style at the scaled size.
    func testStyleScaleMeasuresTheStyleAtThatSize() throws {
        let weights = try golden.weights(), picture = try ImageFile.read(style)
        let main = try WholeImageObjective(context: TestEnv.context, weights: weights, width: 64, height: 48, config: golden.lossConfig)
        try main.setStyles([StyleSource(picture: picture)], scale: 0.5, weights: weights)
        let small = try WholeImageObjective(context: TestEnv.context, weights: weights, width: 32, height: 24, config: golden.lossConfig)
        try small.captureStyles([StyleSource(picture: picture.resized(width: 32, height: 24))])
        for (a, b) in zip(main.styleOps, small.styleOps) {
            XCTAssertEqual(try a.targetGram.read(), try b.targetGram.read(), a.name)
        }
        try main.setStyles([StyleSource(picture: picture)], scale: 1)
        XCTAssertLessThan(relativeL2(try main.styleOps[0].targetGram.read(), golden.styleGram(0)), 1e-5)
    }

    func testControlsValidateTheirInput() throws {
        let base = ["stylize", "--content", content, "--style", style, "--output", path("x.png"), "--weights", "random:1", "--size", "32x32"]
        for (what, extra) in [("layer", ["--style-layers", "conv9_1"]), ("blend count", ["--style-blend", "1,2"]),
                              ("layer weights", ["--style-layer-weights", "1,2"]), ("pooling", ["--pooling", "min"]),
                              ("colors", ["--preserve-colors", "sepia"]), ("init file", ["--init", path("none.png")]),
                              ("scale", ["--style-scale", "0"]), ("blend value", ["--style-blend", "x"])] {
            let r = try runProcess(try impastoBinary(), base + extra)
            XCTAssertNotEqual(r.status, 0, what)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "\(what): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.png")), what)
        }
    }
}

/// Masks and normalised gradients at the level of the loss ops.
final class MaskAndNormalizeTests: XCTestCase {
    let ctx = TestEnv.context

    func opBuffers(_ f: Buffer, grad: Buffer) -> OpBuffers {
        OpBuffers(inputs: [f], output: nil, gradOutput: nil, gradInputs: [grad], accumulate: [false])
    }

    /// The masked style loss and its gradient against finite differences of
    /// w·mean((gram_m(F) − Gs)²), gram_m(F) = (F⊙m)(F⊙m)ᵀ / (C·Σm).
    func testMaskedStyleLossGradient() throws {
        let (c, h, w) = (3, 4, 5), n = h * w
        var rng = TestRNG(50)
        let f = rng.floats(c * n), mask = (0..<n).map { i in Float(i % w) / Float(w - 1) }  // a soft ramp
        let target = CPURef.gram(rng.floats(c * n).doubles, c: c, n: n)
        let losses = try LossSlots(context: ctx)
        let op = try StyleLossOp(name: "s", kernels: Kernels(context: ctx), shape: TensorShape(c: c, h: h, w: w), weight: 2, losses: losses,
                                 masks: 1)
        try op.targetGram.write(target.floats)
        try op.setMasks([mask])
        let bf = try ctx.buffer(f), grad = try ctx.buffer(floats: c * n)
        _ = try op.forward(opBuffers(bf, grad: grad))
        _ = try op.backward(opBuffers(bf, grad: grad))
        let area = mask.reduce(0, +)
        func loss(_ x: [Double]) -> Double {
            let m = (0..<(c * n)).map { x[$0] * Double(mask[$0 % n]) }
            let g = CPURef.gram(m, c: c, n: n).map { $0 * Double(n) / Double(area) }
            return 2 * CPURef.mse(g, target)
        }
        XCTAssertEqual(Double(try losses.read()[0]), loss(f.doubles), accuracy: 1e-4 * loss(f.doubles))
        let all = Array(0..<(c * n))
        let numeric = CPURef.numericGradient(f.doubles, at: all, step: 1e-4, loss)
        assertClose(try grad.read(), numeric.floats, abs: 1e-4, rel: 2e-3, "masked style gradient")
        // A white mask is no mask.
        try op.setMasks([[Float](repeating: 1, count: n)])
        _ = try op.forward(opBuffers(bf, grad: grad))
        let white = try losses.read()[0]
        try op.setMasks([])
        _ = try op.forward(opBuffers(bf, grad: grad))
        XCTAssertEqual(white, try losses.read()[0], accuracy: 1e-6 * abs(white))
    }

    func testNormalizedGradientsHaveTheWeightAsL1Norm() throws {
        let (c, h, w) = (4, 6, 7), n = h * w
        var rng = TestRNG(51)
        let f = rng.floats(c * n)
        let losses = try LossSlots(context: ctx), kernels = try Kernels(context: ctx)
        let plain = try StyleLossOp(name: "p", kernels: kernels, shape: TensorShape(c: c, h: h, w: w), weight: 3, losses: losses)
        let normed = try StyleLossOp(name: "q", kernels: kernels, shape: TensorShape(c: c, h: h, w: w), weight: 3, losses: losses,
                                     normalizeGradients: true)
        let target = CPURef.gram(rng.floats(c * n).doubles, c: c, n: n).floats
        let bf = try ctx.buffer(f), g1 = try ctx.buffer(floats: c * n), g2 = try ctx.buffer(floats: c * n)
        for (op, g) in [(plain, g1), (normed, g2)] {
            try op.targetGram.write(target)
            _ = try op.forward(opBuffers(bf, grad: g))
            _ = try op.backward(opBuffers(bf, grad: g))
        }
        let a = try g1.read(), b = try g2.read()
        let l1 = b.reduce(Float(0)) { $0 + abs($1) }
        XCTAssertEqual(l1, 3, accuracy: 1e-4, "‖normalised gradient‖₁ = weight")
        let scale = a.reduce(Float(0)) { $0 + abs($1) } / 3
        assertClose(b.map { $0 * scale }, a, abs: 1e-6, rel: 1e-4, "same direction")
        // Content loss too.
        let cont = try ContentLossOp(name: "c", kernels: kernels, shape: TensorShape(c: c, h: h, w: w), weight: 5, losses: losses,
                                     normalizeGradients: true)
        _ = try cont.captureTarget(opBuffers(try ctx.buffer(rng.floats(c * n)), grad: g2))
        _ = try cont.backward(opBuffers(bf, grad: g2))
        XCTAssertEqual(try g2.read().reduce(Float(0)) { $0 + abs($1) }, 5, accuracy: 1e-3)
    }

    /// Through the CLI: where the mask is black the result stays near the content; where it
    /// is white the style moves it. The mask's size differs from the output's (it is resized).
    /// L-BFGS, whose steps scale with the gradient (Adam's per-pixel normalisation moves even
    /// pixels with tiny gradients by about lr), at 128x96 so the deep layers' receptive
    /// fields do not span the whole picture.
    func testMaskKeepsTheBlackRegionNearTheContent() throws {
        let golden = Golden.div8
        let (mw, mh) = (40, 30), (w, h) = (128, 96)
        let mask = RGBImage(width: mw, height: mh, pixels: (0..<(mw * mh * 3)).map { i in (i / 3) % mw < mw / 2 ? 1 : 0 })
        let content = try ImageFile.read(golden.dir.appendingPathComponent("content.png").path)
        var request = StylizeRequest(content: content, styles: [try ImageFile.read(TestEnv.shared.appendingPathComponent("images/the_scream.jpg").path)],
                                     sizes: [(w, h)], iterations: [40])
        request.optimizer = .lbfgs(history: 100)
        request.mask = mask
        let result = try Stylization(context: TestEnv.context, weights: try golden.weights()).run(request).picture
        let base = content.resized(width: w, height: h)
        var white = 0.0, black = 0.0
        for y in (h / 12)..<(h - h / 12) {  // away from the soft border and the image edges
            for x in (w / 16)..<(w - w / 16) where x < w * 2 / 5 || x > w * 3 / 5 {
                let d = (0..<3).reduce(0.0) { $0 + Double(abs(result.pixels[(y * w + x) * 3 + $1] - base.pixels[(y * w + x) * 3 + $1])) }
                if x < w / 2 { white += d } else { black += d }
            }
        }
        XCTAssertLessThan(black * 3, white, "black half changed \(black), white half \(white)")
    }
}

final class ProgressImageTests: XCTestCase {
    func testSheetShowsSnapshotsAndCurves() throws {
        let golden = Golden.div8
        let tmp = try temporaryDirectory()
        let sheetPath = tmp.appendingPathComponent("sheet.png").path, out = tmp.appendingPathComponent("out.png").path
        let r = try runProcess(try impastoBinary(), ["stylize", "--content", golden.dir.appendingPathComponent("content.png").path,
                                                     "--style", golden.dir.appendingPathComponent("style.png").path, "--output", out,
                                                     "--size", "64x48", "--iterations", "10", "--weights", golden.weightsURL.path,
                                                     "--progress-image", sheetPath, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let sheet = try ImageFile.read(sheetPath)
        let layout = ProgressSheet(outputWidth: 64, outputHeight: 48)
        XCTAssertEqual([sheet.width, sheet.height], [layout.width, layout.height])
        // The last snapshot is the output, shrunk (here 48 rows: the output's own size).
        let last = try ImageFile.read(out)
        let x0 = layout.width - 8 - layout.thumbWidth - (layout.slots - 6) * (layout.thumbWidth + 8)
        var diff = 0.0
        for y in 0..<layout.thumbHeight { for x in 0..<layout.thumbWidth { for c in 0..<3 {
            diff += Double(abs(sheet.pixels[((8 + y) * sheet.width + x0 + x) * 3 + c] - last.pixels[(y * 64 + x) * 3 + c]))
        } } }
        XCTAssertLessThan(diff / Double(layout.thumbWidth * layout.thumbHeight * 3), 0.01, "the last thumbnail is the result")
        // Each curve colour appears in the plot (beyond its legend swatch).
        let plotTop = layout.thumbHeight + 16
        for color in ProgressSheet.colors.enumerated() {
            let c = color.element
            var count = 0
            for y in plotTop..<sheet.height { for x in 30..<sheet.width {
                let i = (y * sheet.width + x) * 3
                if abs(sheet.pixels[i] - c.0) < 0.02 && abs(sheet.pixels[i + 1] - c.1) < 0.02 && abs(sheet.pixels[i + 2] - c.2) < 0.02 { count += 1 }
            } }
            XCTAssertGreaterThan(count, 20, "curve \(color.offset)")
        }
    }
}

final class ScalesTests: XCTestCase {
    /// Two scales: a 32x24 pass, then 64x48 from its upsampled result; the events say which.
    func testCoarseToFine() throws {
        let golden = Golden.div8
        final class Losses: StylizeObserver {
            var seen: [(scale: String, index: Int, content: Float)] = []
            func observe(_ event: StylizeEvent) throws {
                if case .iteration(let it) = event { seen.append(("\(it.width)x\(it.height)", it.index, it.losses.content)) }
            }
        }
        let content = try ImageFile.read(golden.dir.appendingPathComponent("content.png").path)
        let style = try ImageFile.read(golden.dir.appendingPathComponent("style.png").path)
        let request = StylizeRequest(content: content, styles: [style], sizes: [(32, 24), (64, 48)], iterations: [5, 5])
        let losses = Losses()
        let result = try Stylization(context: TestEnv.context, weights: try golden.weights()).run(request, observers: [losses])
        XCTAssertEqual(losses.seen.map(\.scale), Array(repeating: "32x24", count: 5) + Array(repeating: "64x48", count: 5))
        XCTAssertEqual(losses.seen.map(\.index), Array(0..<10))
        // The fine scale starts from the coarse result, not from the content: its content term
        // at its first step is not zero.
        XCTAssertGreaterThan(losses.seen[5].content, 0)
        XCTAssertEqual(losses.seen[0].content, 0)
        XCTAssertEqual([result.picture.width, result.picture.height], [64, 48])
        // The CLI's contract: a scale too small for VGG19 is a one-line usage error.
        let tmp = try temporaryDirectory()
        let bad = try runProcess(try impastoBinary(), ["stylize", "--content", golden.dir.appendingPathComponent("content.png").path,
                                                       "--style", golden.dir.appendingPathComponent("style.png").path,
                                                       "--output", tmp.appendingPathComponent("x.png").path, "--size", "64x48",
                                                       "--scales", "4", "--weights", "random:1"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--scales"), bad.stderr)
    }

    /// --scale-sizes and --scale-iterations: the given long sides, the output size last, and
    /// the given number of iterations at each; bad lists are refused in one line.
    func testScaleSizesAndIterations() throws {
        let golden = Golden.div8
        let tmp = try temporaryDirectory()
        let out = tmp.appendingPathComponent("out.png").path, log = tmp.appendingPathComponent("log.jsonl").path
        let common = ["stylize", "--content", golden.dir.appendingPathComponent("content.png").path,
                      "--style", golden.dir.appendingPathComponent("style.png").path, "--output", out,
                      "--size", "64x48", "--weights", golden.weightsURL.path, "--quiet"]
        let r = try runProcess(try impastoBinary(), common + ["--scale-sizes", "24,32", "--scale-iterations", "3,2,1", "--log", log])
        XCTAssertEqual(r.status, 0, r.stderr)
        let scales = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map {
            (try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]))["scale"] as? String
        }
        XCTAssertEqual(scales, ["24x18", "24x18", "24x18", "32x24", "32x24", "64x48"])
        // Exit 64: a usage error the options alone show (with --size, the output's longer side is
        // known before any picture is read); 1: one that needs the content picture's size.
        for (extra, word, status) in [(["--scale-sizes", "32,20"], "--scale-sizes", 64), (["--scale-sizes", "32", "--scale-iterations", "5"], "--scale-iterations", 64),
                                      (["--scale-sizes", "100"], "--scale-sizes", 64), (["--scales", "2", "--scale-sizes", "32"], "not both", 64),
                                      (["--size", "9x9", "--max-size", "64"], "not both", 64),
                                      (["--max-memory", "lots"], "memory size", 64)] as [([String], String, Int32)] {
            let bad = try runProcess(try impastoBinary(), common + extra)
            XCTAssertEqual(bad.status, status, extra.joined(separator: " "))
            XCTAssertTrue(bad.stderr.contains(word), bad.stderr)
            XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        }
    }
}
