import CImageFixtures
import XCTest
@testable import Impasto

/// Every image variant the reader promises, written by libpng/libjpeg and read back.
final class ImageFileTests: XCTestCase {
    var tmp: URL!
    override func setUpWithError() throws { tmp = try temporaryDirectory() }
    func path(_ n: String) -> String { tmp.appendingPathComponent(n).path }

    func rgb(_ img: RGBImage, _ x: Int, _ y: Int) -> [Int] {
        (0..<3).map { Int((img.pixels[(y * img.width + x) * 3 + $0] * 255).rounded()) }
    }

    func testGrayAndGrayAlphaAndRGBA() throws {
        XCTAssertEqual(fixture_png(path("g.png"), 2, 1, 1, [10, 200]), 0)
        let g = try ImageFile.read(path("g.png"))
        XCTAssertEqual(rgb(g, 0, 0), [10, 10, 10])
        XCTAssertEqual(rgb(g, 1, 0), [200, 200, 200])
        // Alpha 0 becomes the white background; alpha 255 keeps the colour.
        XCTAssertEqual(fixture_png(path("ga.png"), 2, 1, 2, [10, 0, 10, 255]), 0)
        let ga = try ImageFile.read(path("ga.png"))
        XCTAssertEqual(rgb(ga, 0, 0), [255, 255, 255])
        XCTAssertEqual(rgb(ga, 1, 0), [10, 10, 10])
        XCTAssertEqual(fixture_png(path("rgba.png"), 3, 1, 4, [200, 0, 0, 0, 0, 200, 0, 255, 0, 0, 0, 128]), 0)
        let rgba = try ImageFile.read(path("rgba.png"))
        XCTAssertEqual(rgb(rgba, 0, 0), [255, 255, 255])
        XCTAssertEqual(rgb(rgba, 1, 0), [0, 200, 0])
        let half = rgb(rgba, 2, 0)  // black at half coverage over white: a mid grey
        XCTAssertTrue(half.allSatisfy { (100...200).contains($0) } && half[0] == half[1], "\(half)")
    }

    func testPaletteAnd16Bit() throws {
        XCTAssertEqual(fixture_png_palette(path("p.png"), 3, 1, [2, 0, 1], [255, 0, 0, 0, 255, 0, 0, 0, 255], 3), 0)
        let p = try ImageFile.read(path("p.png"))
        XCTAssertEqual([rgb(p, 0, 0), rgb(p, 1, 0), rgb(p, 2, 0)], [[0, 0, 255], [255, 0, 0], [0, 255, 0]])
        XCTAssertEqual(fixture_png16(path("16.png"), 2, 1, [65535, 0, 0, 0, 0, 65535]), 0)
        let s = try ImageFile.read(path("16.png"))
        XCTAssertEqual(rgb(s, 0, 0), [255, 0, 0])
        XCTAssertEqual(rgb(s, 1, 0), [0, 0, 255])
    }

    /// `depth: 16`: a 16-bit RGB PNG whose samples are the values at 16-bit precision (the
    /// same sRGB encoding as the 8-bit file's, so the reader's 8-bit view is the 8-bit file's);
    /// refused for JPEG and for other depths.
    func testSixteenBitPNGOutput() throws {
        let (w, h) = (5, 3)
        let picture = RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { Float(($0 * 7919) % 1000) / 999 })
        try ImageFile.write(picture, to: path("16.png"), depth: 16)
        var (rw, rh, depth, type): (Int32, Int32, Int32, Int32) = (0, 0, 0, 0)
        var samples = [UInt16](repeating: 0, count: w * h * 3)
        XCTAssertEqual(fixture_read_png_raw(path("16.png"), &rw, &rh, &depth, &type, &samples, samples.count), 0)
        XCTAssertEqual([rw, rh, depth], [Int32(w), Int32(h), 16])
        XCTAssertEqual(samples, picture.pixels.map { UInt16(($0 * 65535).rounded()) })
        try ImageFile.write(picture, to: path("8.png"))
        XCTAssertEqual(fixture_read_png_raw(path("8.png"), &rw, &rh, &depth, &type, &samples, samples.count), 0)
        XCTAssertEqual(depth, 8)
        let eight = try ImageFile.read(path("8.png")), sixteen = try ImageFile.read(path("16.png"))
        XCTAssertEqual(zip(eight.bytes, sixteen.bytes).map { abs(Int($0) - Int($1)) }.max(), 0, "the 8-bit view of the 16-bit file")
        XCTAssertThrowsError(try ImageFile.write(picture, to: path("16.jpg"), depth: 16))
        XCTAssertThrowsError(try ImageFile.write(picture, to: path("12.png"), depth: 12))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("16.jpg")))
    }

    func gradient(_ w: Int, _ h: Int) -> [UInt8] {
        (0..<(w * h * 3)).map { i in UInt8((i / 3 % w) * 255 / max(w - 1, 1)) &+ UInt8(i % 3 * 40) }
    }

    func testProgressiveJPEG() throws {
        let (w, h) = (32, 16), px = gradient(32, 16)
        XCTAssertEqual(fixture_jpeg(path("prog.jpg"), Int32(w), Int32(h), px, 1, 0), 0)
        let img = try ImageFile.read(path("prog.jpg"))
        XCTAssertEqual([img.width, img.height], [w, h])
        let err = zip(img.bytes, px).map { abs(Int($0) - Int($1)) }.reduce(0, +) / px.count
        XCTAssertLessThanOrEqual(err, 8, "mean error in 8-bit levels")
    }

    func testCMYKJPEG() throws {
        // Adobe-inverted: 255 = no ink. Cyan ink only → (0, 255, 255); no ink → white.
        XCTAssertEqual(fixture_jpeg_cmyk(path("cmyk.jpg"), 16, 8, (0..<(16 * 8)).flatMap { i in i % 16 < 8 ? [0, 255, 255, 255] : [255, 255, 255, 255] as [UInt8] }), 0)
        let img = try ImageFile.read(path("cmyk.jpg"))
        let cyan = rgb(img, 2, 4), white = rgb(img, 13, 4)
        XCTAssertLessThan(cyan[0], 20, "\(cyan)")
        XCTAssertGreaterThan(cyan[1], 235)
        XCTAssertGreaterThan(white.min()!, 235, "\(white)")
    }

    func testEXIFOrientation() throws {
        // A 16x8 picture, red in its top-left 4x4 corner (blocks survive JPEG's chroma
        // subsampling). Where source pixel (1, 1) must land for each orientation:
        // 3 = rotate 180°, 6 = rotate 90° clockwise, 8 = 90° anticlockwise, 2 = mirror.
        let (w, h) = (16, 8)
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<4 { for x in 0..<4 { px[(y * w + x) * 3] = 255 } }
        for (o, size, spot) in [(1, [16, 8], (1, 1)), (3, [16, 8], (14, 6)), (6, [8, 16], (6, 1)), (8, [8, 16], (1, 14)), (2, [16, 8], (14, 1))] {
            XCTAssertEqual(fixture_jpeg(path("o\(o).jpg"), Int32(w), Int32(h), px, 0, Int32(o)), 0)
            let img = try ImageFile.read(path("o\(o).jpg"))
            XCTAssertEqual([img.width, img.height], size, "orientation \(o)")
            XCTAssertGreaterThan(rgb(img, spot.0, spot.1)[0], 200, "orientation \(o): red corner")
            XCTAssertLessThan(rgb(img, size[0] - 1 - spot.0, size[1] - 1 - spot.1)[0], 60, "orientation \(o): opposite corner")
        }
    }

    func testPixelLimitIsCheckedBeforeDecoding() throws {
        XCTAssertEqual(fixture_png(path("big.png"), 100, 100, 1, [UInt8](repeating: 1, count: 10_000)), 0)
        XCTAssertThrowsError(try ImageFile.read(path("big.png"), maxPixels: 9_999)) { XCTAssertTrue("\($0)".contains("limit")) }
        XCTAssertNoThrow(try ImageFile.read(path("big.png"), maxPixels: 10_000))
    }

    func testWriteIsAtomicAndRoundTrips() throws {
        let img = RGBImage(width: 5, height: 3, pixels: (0..<45).map { Float($0) / 44 })
        try ImageFile.write(img, to: path("a.png"))
        XCTAssertEqual(try ImageFile.read(path("a.png")).bytes, img.bytes)
        try ImageFile.write(img, to: path("a.jpg"), quality: 100)
        XCTAssertEqual(try ImageFile.read(path("a.jpg")).width, 5)
        XCTAssertThrowsError(try ImageFile.write(img, to: path("missing/a.png")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path).sorted(), ["a.jpg", "a.png"])
    }

    func testResizeAveragesWhenShrinking() {
        // A one-pixel checkerboard shrunk 2x is flat grey (no aliasing); the same size is untouched.
        let w = 8, h = 8
        let board = RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { i in Float(((i / 3) % w + (i / 3) / w) % 2) })
        let half = board.resized(width: 4, height: 4)
        XCTAssertTrue(half.pixels.allSatisfy { abs($0 - 0.5) < 0.13 }, "\(half.pixels.prefix(12))")
        XCTAssertEqual(board.resized(width: 8, height: 8), board)
        let flat = RGBImage(width: 3, height: 2, pixels: [Float](repeating: 0.25, count: 18))
        XCTAssertTrue(flat.resized(width: 7, height: 5).pixels.allSatisfy { abs($0 - 0.25) < 1e-6 })
        XCTAssertEqual(board.fittedSize(maxSide: 4).width, 4)
    }

    func testSampleImagesAreDistinctAndInRange() {
        let a = SampleImages.landscape(width: 64, height: 48), b = SampleImages.swirls(width: 64, height: 48)
        XCTAssertTrue((a.pixels + b.pixels).allSatisfy { $0 >= 0 && $0 <= 1 })
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(SampleImages.swirls(width: 64, height: 48), b, "deterministic")
    }
}
