/// A rectangle of pixels, [x0, x1) × [y0, y1): the windows `Kernels.crop` and `addTile` copy,
/// and the owned block of `Kernels.tileMask`.
package struct PixelRect: Equatable, CustomStringConvertible {
    package let x0, y0, x1, y1: Int
    package init(x0: Int, y0: Int, x1: Int, y1: Int) { self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1 }
    package var width: Int { x1 - x0 }
    package var height: Int { y1 - y0 }
    package var description: String { "\(width)x\(height)+\(x0)+\(y0)" }
}
