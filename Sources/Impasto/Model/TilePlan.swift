/// How a W×H image is cut into tiles that one network of a fixed crop size evaluates
/// *exactly* (TiledObjective):
///
/// - every crop starts on a multiple of `alignment` (2^pools), so each crop's pooling grid is
///   the whole image's and a crop's feature maps are windows of the whole image's;
/// - each tile *owns* a rectangle; the owned rectangles partition the image, with borders on
///   multiples of `alignment`, so at every layer the owned blocks partition that layer's map;
/// - a crop reaches at least `halo` pixels beyond what its tile owns (or to the image's edge),
///   and `halo` is at least the network's reach (how far a feature's receptive field extends
///   beyond its own block), so every owned feature is computed as on the whole image.
///
/// Losses then count each feature once, in the tile that owns it: the sum over tiles of the
/// losses, and of the gradients the tiles add back into the image, are those of the untiled
/// image. The ownership masks are the "blend weights": exactly one tile covers each pixel.
public struct TilePlan: CustomStringConvertible {
    public struct Tile {
        /// The window the network sees, in image pixels.
        package let crop: PixelRect
        /// The part whose features this tile's losses count, in image pixels.
        package let owned: PixelRect
    }

    public let width, height: Int
    public let cropWidth, cropHeight: Int
    public let halo, alignment: Int
    public let tiles: [Tile]
    public let columns, rows: Int

    /// How far VGG19's features up to module `last` see beyond their block, and the alignment
    /// its poolings need: each 3×3 conv at pooling scale s adds s pixels each side, each 2×2
    /// pooling doubles s. The halo is the reach rounded up to the alignment.
    public static func network(upTo last: Int) -> (halo: Int, alignment: Int) {
        var scale = 1, reach = 0
        for i in 0...last {
            if VGG19.convIndices.contains(i) { reach += scale } else if VGG19.poolIndices.contains(i) { scale *= 2 }
        }
        return (reach.roundedUp(to: scale), scale)
    }

    /// A plan of `columns` × `rows` tiles, or nil when that split cannot keep every crop's
    /// halo (too many parts for the size) or is not a split at all (a crop as big as the image
    /// along an axis cut in several parts).
    public init?(width: Int, height: Int, columns: Int, rows: Int, halo: Int, alignment: Int) {
        guard let xs = Self.split(width, parts: columns, halo: halo, alignment: alignment),
              let ys = Self.split(height, parts: rows, halo: halo, alignment: alignment) else { return nil }
        self.width = width
        self.height = height
        self.halo = halo
        self.alignment = alignment
        self.columns = columns
        self.rows = rows
        cropWidth = xs.crop
        cropHeight = ys.crop
        tiles = ys.spans.flatMap { y in
            xs.spans.map { x in
                Tile(crop: PixelRect(x0: x.start, y0: y.start, x1: x.start + xs.crop, y1: y.start + ys.crop),
                     owned: PixelRect(x0: x.owned.lowerBound, y0: y.owned.lowerBound, x1: x.owned.upperBound, y1: y.owned.upperBound))
            }
        }
    }

    /// One axis of length `length` in `parts`: the crop length (the same for every part, and
    /// ≡ length mod alignment so that the last crop can end on the image's edge while starting
    /// aligned) and each part's crop start and owned range.
    static func split(_ length: Int, parts n: Int, halo h: Int, alignment a: Int) -> (crop: Int, spans: [(start: Int, owned: Range<Int>)])? {
        guard n >= 1 else { return nil }
        if n == 1 { return (length, [(0, 0..<length)]) }
        // Edge parts own `halo` more than inner ones, which pay for a halo on both sides.
        let inner = Double(length - 2 * h) / Double(n)
        guard inner >= Double(a) else { return nil }
        var bounds = [0]
        for j in 1..<n {
            let b = Int(((Double(h) + Double(j) * inner) / Double(a)).rounded()) * a
            guard b > bounds.last!, b < length else { return nil }
            bounds.append(b)
        }
        bounds.append(length)
        let owned = (0..<n).map { bounds[$0]..<bounds[$0 + 1] }
        let need = owned.enumerated().map { j, r in (j == 0 ? 0 : h) + r.count + (j == n - 1 ? 0 : h) }
        let wanted = need.max()!
        guard wanted < length else { return nil }
        let crop = length - (length - wanted) / a * a  // ≥ wanted, ≡ length (mod a)
        var spans: [(start: Int, owned: Range<Int>)] = []
        for (j, r) in owned.enumerated() {
            let start = min(max(0, r.lowerBound - (j == 0 ? 0 : h)), length - crop)
            let leftOK = j == 0 || r.lowerBound - start >= h
            let rightOK = j == n - 1 || start + crop - r.upperBound >= h
            guard leftOK, rightOK, start % a == 0 else { return nil }
            spans.append((start, r))
        }
        return (crop, spans)
    }

    /// Pixels the network sees per iteration over all tiles (the cost of the plan; the image's
    /// own pixel count when untiled).
    public var croppedPixels: Int { tiles.count * cropWidth * cropHeight }

    /// A tile's owned block at a layer whose maps are `scale` times smaller than the image
    /// (a power of two ≤ alignment), in that crop's layer coordinates. The image's last
    /// row/column of blocks ends where floor pooling ends the whole image's map.
    package func owned(_ tile: Tile, scale: Int) -> PixelRect {
        precondition(scale >= 1 && scale <= alignment && alignment % scale == 0, "scale \(scale) finer than the alignment")
        let ox = tile.crop.x0 / scale, oy = tile.crop.y0 / scale
        let x1 = tile.owned.x1 == width ? width / scale : tile.owned.x1 / scale
        let y1 = tile.owned.y1 == height ? height / scale : tile.owned.y1 / scale
        return PixelRect(x0: tile.owned.x0 / scale - ox, y0: tile.owned.y0 / scale - oy, x1: x1 - ox, y1: y1 - oy)
    }

    /// The tile's ownership mask at a layer of `scale`: 1 on its owned block, 0 elsewhere
    /// (layer height × width values of the crop's map).
    public func ownershipMask(_ tile: Tile, scale: Int) -> [Float] {
        let lw = cropWidth / scale, lh = cropHeight / scale
        let r = owned(tile, scale: scale)
        var mask = [Float](repeating: 0, count: lw * lh)
        for y in r.y0..<r.y1 { for x in r.x0..<r.x1 { mask[y * lw + x] = 1 } }
        return mask
    }

    /// Where one tile's owned part ends and the next one's begins (columns, rows).
    public var borders: (x: [Int], y: [Int]) {
        (Set(tiles.map { $0.owned.x0 }).subtracting([0]).sorted(), Set(tiles.map { $0.owned.y0 }).subtracting([0]).sorted())
    }

    public var description: String {
        tiles.count == 1 ? "untiled" : "\(columns)x\(rows) tiles of \(cropWidth)x\(cropHeight) (halo \(halo))"
    }
}
