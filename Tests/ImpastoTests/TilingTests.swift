import XCTest
@testable import Impasto

/// Tiled stylization (TilePlan, TiledObjective) against the whole image, and the memory
/// measurements that decide when to tile.
final class TilingTests: XCTestCase {
    var ctx: CLContext { TestEnv.context }
    static let weights = try! VGGWeights.random(seed: 7, widthDivisor: 8)

    func pictures(_ w: Int, _ h: Int) -> (content: RGBImage, style: RGBImage, mask: RGBImage) {
        let mask = RGBImage(width: 8, height: 8, pixels: (0..<64).flatMap { i -> [Float] in
            let v: Float = i % 8 < 3 ? 0 : (i % 8 < 5 ? 0.5 : 1)
            return [v, v, v]
        })
        return (SampleImages.landscape().resized(width: w, height: h), SampleImages.swirls().resized(width: w, height: h), mask)
    }

    func testNetworkReachAndAlignment() {
        // conv5_1: 2·1 + 2·2 + 4·4 + 4·8 + 1·16 = 70 pixels, after four poolings (16).
        XCTAssertTrue(TilePlan.network(upTo: 28) == (80, 16))
        // conv4_4: 2 + 4 + 16 + 32 = 54, three poolings.
        XCTAssertTrue(TilePlan.network(upTo: 25) == (56, 8))
        XCTAssertTrue(TilePlan.network(upTo: 2) == (2, 1))
    }

    /// The "blend weights": at every layer scale the tiles' ownership masks add up to exactly
    /// 1 on every position of the whole image's map, and crops keep their halo.
    func testOwnershipCoversEveryPixelOnceAtEveryLayer() throws {
        for (w, h, columns, rows) in [(256, 224, 2, 2), (517, 389, 3, 2), (4000, 3000, 5, 4), (1000, 300, 4, 1), (203, 900, 1, 5)] {
            let plan = try XCTUnwrap(TilePlan(width: w, height: h, columns: columns, rows: rows, halo: 80, alignment: 16), "\(w)x\(h)")
            XCTAssertEqual(plan.tiles.count, columns * rows)
            for t in plan.tiles {
                XCTAssertTrue(t.crop.x0 >= 0 && t.crop.y0 >= 0 && t.crop.x1 <= w && t.crop.y1 <= h, "\(t.crop) in \(w)x\(h)")
                XCTAssertEqual(t.crop.x0 % 16, 0); XCTAssertEqual(t.crop.y0 % 16, 0)
                XCTAssertEqual(t.crop.width, plan.cropWidth); XCTAssertEqual(t.crop.height, plan.cropHeight)
                XCTAssertTrue(t.owned.x0 == 0 || t.owned.x0 - t.crop.x0 >= 80, "left halo of \(t.crop)")
                XCTAssertTrue(t.owned.y0 == 0 || t.owned.y0 - t.crop.y0 >= 80, "top halo of \(t.crop)")
                XCTAssertTrue(t.owned.x1 == w || t.crop.x1 - t.owned.x1 >= 80, "right halo of \(t.crop)")
                XCTAssertTrue(t.owned.y1 == h || t.crop.y1 - t.owned.y1 >= 80, "bottom halo of \(t.crop)")
            }
            for scale in [1, 2, 4, 8, 16] {
                let gw = w / scale, gh = h / scale, lw = plan.cropWidth / scale, lh = plan.cropHeight / scale
                var cover = [Float](repeating: 0, count: gw * gh)
                for t in plan.tiles {
                    let mask = plan.ownershipMask(t, scale: scale)
                    for y in 0..<lh { for x in 0..<lw where mask[y * lw + x] != 0 {
                        let gx = t.crop.x0 / scale + x, gy = t.crop.y0 / scale + y
                        XCTAssertTrue(gx < gw && gy < gh, "a tile owns a position outside the map")
                        cover[gy * gw + gx] += mask[y * lw + x]
                    } }
                }
                XCTAssertTrue(cover.allSatisfy { $0 == 1 }, "\(w)x\(h) at 1/\(scale): \(cover.filter { $0 != 1 }.count) positions not covered once")
            }
        }
        XCTAssertNil(TilePlan(width: 180, height: 200, columns: 2, rows: 1, halo: 80, alignment: 16), "too small for two tiles with halos")
    }

    func models(_ w: Int, _ h: Int, columns: Int, rows: Int, halo: Int = TilePlan.network(upTo: 28).halo,
                masks: Int = 0) throws -> (WholeImageObjective, TiledObjective) {
        let alignment = TilePlan.network(upTo: 28).alignment
        let plan = try XCTUnwrap(TilePlan(width: w, height: h, columns: columns, rows: rows, halo: halo, alignment: alignment))
        XCTAssertEqual(plan.tiles.count, columns * rows)
        let (content, style, _) = pictures(w, h)
        let whole = try WholeImageObjective(context: ctx, weights: Self.weights, width: w, height: h, masks: masks)
        let tiled = try TiledObjective(context: ctx, weights: Self.weights, plan: plan, masks: masks)
        for m in [whole, tiled] as [Objective] {
            try m.setStyles([StyleSource(picture: style)])
            try m.setContent(content)
            m.setWeights(LossWeights(content: 1, style: 1e3, tv: 1))
        }
        return (whole, tiled)
    }

    func assertSameObjective(_ whole: Objective, _ tiled: Objective, _ what: String) throws {
        let a = try whole.evaluate(), b = try tiled.evaluate()
        for (name, x, y) in [("content", a.content, b.content), ("style", a.style, b.style), ("tv", a.tv, b.tv)] {
            XCTAssertEqual(y, x, accuracy: 2e-6 * max(abs(x), 1e-12), "\(what): \(name) tiled \(y) vs whole \(x)")
        }
        let gw = try whole.grad.read(), gt = try tiled.grad.read()
        XCTAssertLessThan(relativeL2(gt, gw), 2e-5, "\(what): gradient")  // measured 5e-7, masked 4e-6
    }

    /// Tiles with halos and global Gram matrices compute the whole image's losses and gradient
    /// (2x2 tiles of a 256x224 image), with and without a spatial mask; a few Adam steps agree.
    func testTiledEvaluationEqualsWholeImage() throws {
        let (whole, tiled) = try models(256, 224, columns: 2, rows: 2, masks: 1)
        var rng = TestRNG(3)
        let start = try whole.x.read().map { $0 + 0.2 * rng.float() }
        try whole.setImage(start); try tiled.setImage(start)
        try assertSameObjective(whole, tiled, "unmasked")

        let mask = pictures(8, 8).mask
        try whole.setMasks([mask]); try tiled.setMasks([mask])
        try assertSameObjective(whole, tiled, "masked")

        try whole.setMasks([]); try tiled.setMasks([])
        let adamWhole = try AdamOptimizer(objective: whole), adamTiled = try AdamOptimizer(objective: tiled)
        for i in 0..<3 {
            let reads = tiled.context.blockingReads
            let a = try adamWhole.step(rate: 0.3).0, b = try adamTiled.step(rate: 0.3).0
            XCTAssertEqual(b.total, a.total, accuracy: 1e-3 * a.total, "step \(i)")
            // Neither waits for a value before its losses, which come by pending reads: no
            // tile's losses cross to the host on their own.
            XCTAssertEqual(tiled.context.blockingReads, reads, "blocking reads in Adam step \(i)")
        }
    }

    /// The halo is needed: without it (or with less than the network's reach) the tiles'
    /// features near their borders are wrong and so are the losses and gradient, by far more
    /// than the tolerances above (with this net a 16-pixel halo is still off by 1.6e-4 on the gradient).
    func testWithoutAHaloTheObjectiveDiffers() throws {
        let (whole, tiled) = try models(256, 224, columns: 2, rows: 2, halo: 0)
        let a = try whole.evaluate(), b = try tiled.evaluate()
        XCTAssertGreaterThan(abs(b.style - a.style) / a.style, 1e-3)  // measured 2.5e-2
        XCTAssertGreaterThan(relativeL2(try tiled.grad.read(), try whole.grad.read()), 1e-2)  // measured 7e-2
    }

    /// A reserved model is built once: `Objectives.choose` builds it with its buffers reserved
    /// (nothing allocated), `build` allocates those same buffers, and the memory it reported is
    /// what they take; it then runs like a model built directly, to the bit.
    func testTheChosenModelIsTheOneAllocated() throws {
        let (content, style, _) = pictures(96, 64)
        let before = ctx.liveBytes
        let choice = try Objectives.choose(context: ctx, weights: Self.weights, width: 96, height: 64, config: LossConfig(), memoryLimit: 1 << 30)
        XCTAssertNil(choice.tiles)
        XCTAssertEqual(ctx.liveBytes, before, "choosing allocates nothing")
        let model = try Objectives.build(choice)
        XCTAssertEqual(ctx.liveBytes - before, choice.memory.total, "the reserved buffers, allocated")
        XCTAssertTrue(try Objectives.build(choice) === model, "the same model, not a second one")
        XCTAssertEqual(ctx.liveBytes - before, choice.memory.total)
        let direct = try WholeImageObjective(context: ctx, weights: Self.weights, width: 96, height: 64)
        for m in [model, direct as Objective] {
            try m.setStyles([StyleSource(picture: style)])
            try m.setContent(content)
        }
        XCTAssertEqual(try model.evaluate(), try direct.evaluate())
        XCTAssertEqual(try model.grad.read(), try direct.grad.read())
    }

    /// What `CLContext.measure` says a model needs is what building and running it allocates.
    func testMeasuredMemoryIsWhatTheModelAllocates() throws {
        let (content, style, mask) = pictures(96, 64)
        for masked in [false, true] {
            let measured = try Objectives.measureWhole(context: ctx, weights: Self.weights, width: 96, height: 64, config: LossConfig(), masks: masked ? 1 : 0)
            let before = ctx.liveBytes
            do {
                let model = try WholeImageObjective(context: ctx, weights: Self.weights, width: 96, height: 64, masks: masked ? 1 : 0)
                try model.setStyles([StyleSource(picture: style)])
                if masked { try model.setMasks([mask]) }
                try model.setContent(content)
                _ = try model.evaluate()
                XCTAssertEqual(ctx.liveBytes - before, measured.total, "masked \(masked): allocated vs measured")
                XCTAssertEqual(model.deviceBytes, measured.total, "masked \(masked): the model's own count")
                let adam = try AdamOptimizer(objective: model)
                _ = try adam.step(rate: 0.3)
                XCTAssertEqual(ctx.liveBytes - before, measured.total + AdamOptimizer.bytes(pixels: model.pixelCount), "with Adam")
                XCTAssertEqual(adam.deviceBytes, AdamOptimizer.bytes(pixels: model.pixelCount))
            }
            XCTAssertEqual(ctx.liveBytes, before, "the model's buffers are released with it")
        }
        let (halo, alignment) = TilePlan.network(upTo: 28)
        let plan = try XCTUnwrap(TilePlan(width: 256, height: 224, columns: 2, rows: 2, halo: halo, alignment: alignment))
        for masked in [false, true] {
            let measured = try Objectives.measureTiled(context: ctx, weights: Self.weights, plan: plan, config: LossConfig(), masks: masked ? 1 : 0)
            let before = ctx.liveBytes
            let big = pictures(256, 224)
            let tiled = try TiledObjective(context: ctx, weights: Self.weights, plan: plan, masks: masked ? 1 : 0)
            try tiled.setStyles([StyleSource(picture: big.style)])
            if masked { try tiled.setMasks([mask]) }
            try tiled.setContent(big.content)
            _ = try tiled.evaluate()
            XCTAssertEqual(ctx.liveBytes - before, measured.total, "tiled, masked \(masked): allocated vs measured")
            XCTAssertEqual(tiled.deviceBytes, measured.total, "tiled, masked \(masked): the objective's own count")
        }
    }

    func testChoosesTilesOnlyWhenTheWholeImageDoesNotFit() throws {
        // Large enough that tiles are not mostly halo (only measured, never allocated).
        let (w, h) = (640, 480)
        let whole = try Objectives.measureWhole(context: ctx, weights: Self.weights, width: w, height: h, config: LossConfig())
        let fits = try Objectives.choose(context: ctx, weights: Self.weights, width: w, height: h, config: LossConfig(), memoryLimit: whole.total)
        XCTAssertNil(fits.tiles)
        let tight = try Objectives.choose(context: ctx, weights: Self.weights, width: w, height: h, config: LossConfig(), memoryLimit: whole.total - 1)
        let plan = try XCTUnwrap(tight.tiles)
        XCTAssertGreaterThan(plan.tiles.count, 1)
        XCTAssertLessThanOrEqual(tight.memory.total, whole.total - 1)
        XCTAssertThrowsError(try Objectives.choose(context: ctx, weights: Self.weights, width: w, height: h, config: LossConfig(),
                                                  memoryLimit: 1 << 20)) { error in
            XCTAssertTrue("\(error)".contains("does not fit"), "\(error)")
        }
    }

    /// Adam's state carried to the next scale on the device: the step count kept, the moments
    /// resized exactly as the host's bilinear reference (`hostBilinear`), v ≥ 0.
    func testAdamStateCarriesToTheNextScale() throws {
        let (content, style, _) = pictures(64, 48)
        let small = try WholeImageObjective(context: ctx, weights: Self.weights, width: 32, height: 24)
        try small.setStyles([StyleSource(picture: style)])
        try small.setContent(content.resized(width: 32, height: 24))
        let first = try AdamOptimizer(objective: small)
        for _ in 0..<3 { _ = try first.step(rate: 0.3) }
        let state = try XCTUnwrap(first.carried())
        XCTAssertEqual(state.steps, 3)
        let m = try state.m.read(), v = try state.v.read()
        XCTAssertTrue(v.contains { $0 > 0 })
        let big = try WholeImageObjective(context: ctx, weights: Self.weights, width: 64, height: 48)
        let second = try AdamOptimizer(objective: big)
        try second.resume(state)
        XCTAssertEqual(second.steps, 3)
        XCTAssertEqual(try second.m.read(), hostBilinear(m, 32, 24, 64, 48))
        let bigV = try second.v.read()
        XCTAssertEqual(bigV, hostBilinear(v, 32, 24, 64, 48))
        XCTAssertTrue(bigV.allSatisfy { $0 >= 0 })
    }
}

/// A run whose memory limit is below the whole image's need: tiles, the same run.
final class TiledStylizeTests: XCTestCase {
    final class Recorder: StylizeObserver {
        var losses: [LossTerms] = []
        var tiles: TilePlan?
        func observe(_ event: StylizeEvent) throws {
            switch event {
            case .iteration(let it): losses.append(it.losses)
            case .tiles(_, _, _, let plan, _): tiles = plan
            default: break
            }
        }
    }

    func testAMemoryLimitTilesAndGivesTheSameRun() throws {
        let content = SampleImages.landscape(width: 256, height: 224), style = SampleImages.swirls(width: 256, height: 224)
        // With a video's temporal loss (per pixel, on the whole image around the tiles); the
        // other terms are the same with or without it (TilingTests holds them without).
        let temporal = TemporalTarget(picture: style, weights: (0..<(256 * 224)).map { Float($0 % 3 == 0 ? 0 : 1) }, weight: 300)
        for target in [temporal] as [TemporalTarget?] {
            func run(_ limit: Int?) throws -> (Recorder, RGBImage) {
                var request = StylizeRequest(content: content, styles: [style], sizes: [(256, 224)], iterations: [2])
                request.balance = [.content, .style]
                request.memoryLimit = limit
                request.temporal = target
                let recorder = Recorder()
                let result = try Stylization(context: TestEnv.context, weights: try VGGWeights.random(seed: 1)).run(request, observers: [recorder])
                return (recorder, result.picture)
            }
            // One byte less than the whole picture, Adam and the temporal term need.
            let need = try Objectives.measureWhole(context: TestEnv.context, weights: VGGWeights.random(seed: 1),
                                                   width: 256, height: 224, config: LossConfig())
            let whole = try run(nil)
            let tiled = try run(need.total + AdamOptimizer.bytes(pixels: 3 * 256 * 224) - 1
                                + (target == nil ? 0 : TemporalObjective.bytes(pixels: 256 * 224)))
            let what = target == nil ? "" : " (temporal)"
            XCTAssertNil(whole.0.tiles)
            XCTAssertGreaterThan(try XCTUnwrap(tiled.0.tiles).tiles.count, 1)
            XCTAssertEqual(tiled.0.losses.count, 2)
            // Iteration 0 is the same objective; iteration 1 comes after Adam's first step, which
            // moves every pixel by ±lr with its gradient's sign, so an element near 0 that rounds
            // to the other sign in tiles moves the other way (from the content start with the
            // 3x4 tiles chosen here, 18 of 172,032 gradient elements: 1.4e-4 on the content term).
            for (i, (a, b)) in zip(whole.0.losses, tiled.0.losses).enumerated() {
                let tolerance: Float = i == 0 ? 1e-5 : 5e-4
                for (key, x, y) in [("content", a.content, b.content), ("style", a.style, b.style), ("tv", a.tv, b.tv), ("temporal", a.temporal, b.temporal)] {
                    XCTAssertEqual(y, x, accuracy: tolerance * max(abs(x), 1e-9), "\(key) at iteration \(i)\(what)")
                }
                XCTAssertEqual(a.temporal > 0, target != nil)
            }
            // Adam's first steps are ±lr wherever the gradient is not 0, so a gradient element near 0
            // whose rounding differs moves its pixel the other way: compare the mean.
            let diffs = zip(whole.1.pixels, tiled.1.pixels).map { abs($0 - $1) }
            let mean = diffs.reduce(0, +) / Float(diffs.count)
            XCTAssertLessThan(mean, 0.5 / 255, "tiled and whole pictures differ\(what)")
        }
    }
}
