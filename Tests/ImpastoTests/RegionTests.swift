import XCTest
@testable import Impasto

/// A style per region: the loss of several masked regions, tiled against whole, and whole runs
/// where each region ends up with its own style's colours.
final class RegionTests: XCTestCase {
    var ctx: CLContext { TestEnv.context }

    func opBuffers(_ f: Buffer, grad: Buffer) -> OpBuffers {
        OpBuffers(inputs: [f], output: nil, gradOutput: nil, gradInputs: [grad], accumulate: [false])
    }

    /// Two regions, each with its own mask and target: the loss is
    /// Σᵣ w·mean((gram_mᵣ(F) − Tᵣ)²), gram_m(F) = (F⊙m)(F⊙m)ᵀ / (C·Σm), against a CPU
    /// computation, and its gradient against finite differences.
    func testTwoRegionStyleLossAndGradient() throws {
        let (c, h, w) = (3, 4, 5), n = h * w
        var rng = TestRNG(60)
        let f = rng.floats(c * n)
        let masks: [[Float]] = [(0..<n).map { i in Float(i % w) / Float(w - 1) }, (0..<n).map { _ in 0.5 * (rng.float() + 1) }]
        let targets = (0..<2).map { _ in CPURef.gram(rng.floats(c * n).doubles, c: c, n: n) }
        let losses = try LossSlots(context: ctx)
        let op = try StyleLossOp(name: "s", kernels: Kernels(context: ctx), shape: TensorShape(c: c, h: h, w: w), weight: 2,
                                 losses: losses, masks: 2)
        for (buffer, t) in zip(op.targetGrams, targets) { try buffer.write(t.floats) }
        try op.setMasks(masks)
        XCTAssertEqual(op.slots.count, 2)
        let bf = try ctx.buffer(f), grad = try ctx.buffer(floats: c * n)
        _ = try op.forward(opBuffers(bf, grad: grad))
        _ = try op.backward(opBuffers(bf, grad: grad))
        func loss(_ x: [Double]) -> Double {
            zip(masks, targets).reduce(0) { sum, region in
                let (mask, target) = region, area = Double(mask.reduce(0, +))
                let m = (0..<(c * n)).map { x[$0] * Double(mask[$0 % n]) }
                return sum + 2 * CPURef.mse(CPURef.gram(m, c: c, n: n).map { $0 * Double(n) / area }, target)
            }
        }
        let values = try losses.read()
        XCTAssertEqual(Double(op.slots.reduce(0) { $0 + values[$1] }), loss(f.doubles), accuracy: 1e-4 * loss(f.doubles))
        let numeric = CPURef.numericGradient(f.doubles, at: Array(0..<(c * n)), step: 1e-4, loss)
        assertClose(try grad.read(), numeric.floats, abs: 1e-4, rel: 2e-3, "two-region style gradient")
        XCTAssertThrowsError(try op.setMasks([masks[0]]), "one mask for two regions")
    }

    /// Tiles compute the whole image's losses and gradient with two regions (soft masks of
    /// other sizes than the image, one style each).
    func testTiledRegionsEqualWholeImage() throws {
        let (w, h) = (256, 224), weights = TilingTests.weights
        let plan = try XCTUnwrap(TilePlan(width: w, height: h, columns: 2, rows: 2, halo: 80, alignment: 16))
        let whole = try WholeImageObjective(context: ctx, weights: weights, width: w, height: h, masks: 2)
        let tiled = try TiledObjective(context: ctx, weights: weights, plan: plan, masks: 2)
        let left = RGBImage(width: 10, height: 6, pixels: (0..<180).map { i in Float(max(0, 4 - (i / 3) % 10)) / 4 })
        let right = RGBImage(width: 7, height: 9, pixels: (0..<189).map { i in (i / 3) % 7 > 3 ? 1 : 0.25 })
        let styles = [StyleSource(picture: SampleImages.swirls().resized(width: w, height: h), region: 0),
                      StyleSource(picture: SampleImages.landscape().resized(width: w, height: h), weight: 2, region: 1),
                      StyleSource(picture: SampleImages.swirls().resized(width: 99, height: 77).resized(width: w, height: h), region: 1)]
        for m in [whole, tiled] as [Objective] {
            try m.setStyles(styles)
            try m.setContent(SampleImages.landscape().resized(width: w, height: h))
            m.setWeights(LossWeights(content: 1, style: 1e3, tv: 1))
            try m.setMasks([left, right])
        }
        for (a, b) in zip(whole.styleOps, tiled.styleOps) {
            for (ta, tb) in zip(a.targetGrams, b.targetGrams) { XCTAssertLessThan(relativeL2(try tb.read(), try ta.read()), 1e-5, a.name) }
        }
        var rng = TestRNG(61)
        let start = try whole.x.read().map { $0 + 0.2 * rng.float() }
        try whole.setImage(start); try tiled.setImage(start)
        let a = try whole.evaluate(), b = try tiled.evaluate()
        XCTAssertEqual(b.style, a.style, accuracy: 2e-6 * a.style, "style")
        XCTAssertEqual(b.total, a.total, accuracy: 2e-6 * a.total, "total")
        XCTAssertLessThan(relativeL2(try tiled.grad.read(), try whole.grad.read()), 2e-5, "gradient")
        // Each region's term is its own: two regions with the same mask and style give twice one region's loss.
        let single = try WholeImageObjective(context: ctx, weights: weights, width: w, height: h, masks: 1)
        try single.setStyles([styles[0]]); try single.setContent(SampleImages.landscape().resized(width: w, height: h))
        single.setWeights(LossWeights(content: 1, style: 1e3, tv: 1)); try single.setMasks([left])
        try whole.setStyles([styles[0], StyleSource(picture: styles[0].picture, region: 1)]); try whole.setMasks([left, left])
        try single.setImage(start); try whole.setImage(start)  // capturing a style uploads it into X
        XCTAssertEqual(try whole.evaluate().style, 2 * (try single.evaluate().style), accuracy: 1e-5 * a.style)
    }

    /// The default region is what the masks leave; each masked style is a region of its own;
    /// bad combinations name the field.
    func testRegionsFromTheRequest() throws {
        let grey = RGBImage(width: 4, height: 2, pixels: [Float](repeating: 0.5, count: 24))
        let half = RGBImage(width: 2, height: 1, pixels: [1, 1, 1, 0, 0, 0])
        var r = StylizeRequest(content: grey, styles: [grey, grey, grey], sizes: [(64, 32)], iterations: [1])
        r.styleMasks = [nil, half, nil]
        XCTAssertNoThrow(try r.validate())
        let regions = r.regions
        XCTAssertEqual(regions.regionOfStyle, [1, 0, 1])
        XCTAssertEqual(regions.masks.count, 2)
        let rest = regions.masks[1]
        XCTAssertEqual([rest.width, rest.height], [64, 32])
        XCTAssertEqual(rest.pixels[3 * (16 * 64 + 2)], 0, accuracy: 1e-6, "under the white half: nothing left")
        XCTAssertEqual(rest.pixels[3 * (16 * 64 + 61)], 1, accuracy: 1e-6, "under the black half: all left")

        func fails(_ change: (inout StylizeRequest) -> Void, _ field: String) {
            var bad = r
            change(&bad)
            XCTAssertThrowsError(try bad.validate()) { XCTAssertEqual(($0 as? SettingError)?.field, field, "\($0)") }
        }
        fails({ $0.styleMasks = [half, nil] }, "styleMasks")
        fails({ $0.styleMasks = [nil, nil, nil] }, "styleMasks")
        fails({ $0.mask = half }, "styleMasks")
        fails({ $0.styleBlend = [0, 1, 0] }, "styleBlend")  // the default region's styles all weigh 0
        fails({ $0.styles = Array(repeating: grey, count: 20); $0.styleMasks = Array(repeating: half, count: 20) }, "styleMasks")
    }

    /// Flat red and blue style pictures, a left-half mask, and a grey photo with a faint
    /// checker (so the content has features).
    static let red = RGBImage(width: 32, height: 32, pixels: (0..<(32 * 32 * 3)).map { [0.9, 0.1, 0.1][$0 % 3] })
    static let blue = RGBImage(width: 32, height: 32, pixels: (0..<(32 * 32 * 3)).map { [0.1, 0.1, 0.9][$0 % 3] })
    static let left = RGBImage(width: 2, height: 1, pixels: [1, 1, 1, 0, 0, 0])
    static func grey(_ w: Int, _ h: Int) -> RGBImage {
        RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { i in 0.45 + 0.1 * Float(((i / 3) % w / 8 + (i / 3) / w / 8) % 2) })
    }

    /// Mean red − blue of the left and right halves (away from the middle, the edges and the
    /// top and bottom eighths).
    static func redMinusBlue(_ out: RGBImage) -> (left: Double, right: Double) {
        let (w, h) = (out.width, out.height)
        func mean(_ xs: Range<Int>) -> Double {
            var sum = 0.0, count = 0
            for y in (h / 8)..<(h - h / 8) { for x in xs { sum += Double(out.pixels[(y * w + x) * 3] - out.pixels[(y * w + x) * 3 + 2]); count += 1 } }
            return sum / Double(count)
        }
        return (mean((w / 16)..<(w * 2 / 5)), mean((w * 3 / 5)..<(w - w / 16)))
    }

    /// A red and a blue flat style on the two halves of a grey photo: each half's mean colour
    /// moves toward its own style's, not the other's, whole and over two scales; and with the
    /// blue style as the default (no mask of its own), the same.
    func testEachRegionTakesItsOwnStylesColours() throws {
        let golden = Golden.div8, (w, h) = (128, 96)
        let (grey, red, blue, left) = (Self.grey(w, h), Self.red, Self.blue, Self.left)
        let right = RGBImage(width: 2, height: 1, pixels: [0, 0, 0, 1, 1, 1])
        let run = Stylization(context: ctx, weights: try golden.weights())
        for (what, masks, sizes) in [("whole", [left, right], [(w, h)]), ("two scales", [left, right], [(w / 2, h / 2), (w, h)]),
                                     ("blue by default", [left, nil], [(w, h)])] as [(String, [RGBImage?], [(Int, Int)])] {
            var request = StylizeRequest(content: grey, styles: [red, blue], sizes: sizes.map { (width: $0.0, height: $0.1) },
                                         iterations: sizes.map { _ in 30 })
            request.optimizer = .lbfgs(history: 100)
            request.styleMasks = masks
            let out = try run.run(request).picture
            XCTAssertEqual([out.width, out.height], [w, h])
            let (l, r) = Self.redMinusBlue(out)
            print("regions \(what): red − blue, left \(l), right \(r)")
            // The grey photo has red − blue = 0 (measured: whole 0.37/−0.16, two scales 0.81/−0.56, default 0.38/−0.16).
            XCTAssertGreaterThan(l, 0.1, "\(what): the left half turns red")
            XCTAssertLessThan(r, -0.1, "\(what): the right half turns blue")
        }
    }

    /// Tiled, the regions' run is the whole image's (the objectives agree: see
    /// `testTiledRegionsEqualWholeImage`), and the colours land the same way.
    func testTiledRegionsRunTakeTheirOwnColours() throws {
        let golden = Golden.div8, (w, h) = (512, 384)
        let (grey, red, blue, left) = (Self.grey(w, h), Self.red, Self.blue, Self.left)
        let weights = try golden.weights()
        let whole = try Objectives.measureWhole(context: ctx, weights: weights, width: w, height: h, config: LossConfig(), masks: 2)
        var request = StylizeRequest(content: grey, styles: [red, blue], sizes: [(w, h)], iterations: [20])
        request.styleMasks = [left, nil]  // Adam: every pixel has a style here
        request.memoryLimit = whole.total * 3 / 4 + AdamOptimizer.bytes(pixels: 3 * w * h)
        let tiles = TileEvents()
        let out = try Stylization(context: ctx, weights: weights).run(request, observers: [tiles]).picture
        XCTAssertGreaterThan(tiles.count, 1, "the run is tiled")
        let (l, r) = Self.redMinusBlue(out)
        print("regions tiled (\(tiles.count) tiles): red − blue, left \(l), right \(r)")
        // The grey photo has red − blue = 0; 20 Adam steps move it (measured 0.089 and −0.060).
        XCTAssertGreaterThan(l, 0.03, "tiled: the left half turns red")
        XCTAssertLessThan(r, -0.03, "tiled: the right half turns blue")
    }

    /// Through the CLI: `--style-mask` pairs with `--style` in order, `none` for the default style.
    func testStyleMaskOptionRuns() throws {
        let golden = Golden.div8, tmp = try temporaryDirectory()
        let mask = tmp.appendingPathComponent("left.png").path, out = tmp.appendingPathComponent("out.png").path
        try ImageFile.write(Self.left, to: mask)
        let r = try runProcess(try impastoBinary(), [
            "stylize", "--content", golden.dir.appendingPathComponent("content.png").path, "--output", out,
            "--style", golden.dir.appendingPathComponent("style.png").path, "--style-mask", mask,
            "--style", TestEnv.shared.appendingPathComponent("images/the_scream.jpg").path, "--style-mask", "none",
            "--size", "64x48", "--iterations", "3", "--weights", golden.weightsURL.path, "--conv", "winograd", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let picture = try ImageFile.read(out)
        XCTAssertEqual([picture.width, picture.height], [64, 48])
    }
}

/// Counts the tiles a run reports.
final class TileEvents: StylizeObserver {
    var count = 0
    func observe(_ event: StylizeEvent) throws {
        if case .tiles(_, _, _, let plan, _) = event { count = plan.tiles.count }
    }
}
