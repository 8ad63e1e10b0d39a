import Foundation

/// Flows a caller brings for a pair of frames (current, earlier; from 0): backward (current →
/// earlier) and forward (earlier → current), at any size; nil: computed on the device.
public typealias UserFlows = (_ current: Int, _ earlier: Int) throws -> (backward: FlowField, forward: FlowField)?

/// A dense optical flow field: for each pixel p of the first picture, the displacement
/// (u, v) in pixels to where it is in the second, p + (u, v). Two planes, u then v.
public struct FlowField: Equatable {
    public let width, height: Int
    /// 2×H×W: u's plane, then v's.
    public var values: [Float]

    public init(width: Int, height: Int, values: [Float]) {
        precondition(values.count == 2 * width * height, "a \(width)x\(height) flow has \(2 * width * height) values, not \(values.count)")
        self.width = width
        self.height = height
        self.values = values
    }

    public static func zero(width: Int, height: Int) -> FlowField {
        FlowField(width: width, height: height, values: [Float](repeating: 0, count: 2 * width * height))
    }

    public func u(_ x: Int, _ y: Int) -> Float { values[y * width + x] }
    public func v(_ x: Int, _ y: Int) -> Float { values[width * height + y * width + x] }

    /// The flow at another size: bilinear at the new pixel centres, vectors scaled with the
    /// picture (a user's flow computed at another resolution).
    public func resized(width nw: Int, height nh: Int) -> FlowField {
        if nw == width && nh == height { return self }
        let sx = Double(width) / Double(nw), sy = Double(height) / Double(nh)
        var out = [Float](repeating: 0, count: 2 * nw * nh)
        func sample(_ plane: Int, _ x: Double, _ y: Double) -> Double {
            let x = min(max(x, 0), Double(width - 1)), y = min(max(y, 0), Double(height - 1))
            let x0 = Int(x), y0 = Int(y), x1 = min(x0 + 1, width - 1), y1 = min(y0 + 1, height - 1)
            let fx = x - Double(x0), fy = y - Double(y0), base = plane * width * height
            let top = Double(values[base + y0 * width + x0]) * (1 - fx) + Double(values[base + y0 * width + x1]) * fx
            let bottom = Double(values[base + y1 * width + x0]) * (1 - fx) + Double(values[base + y1 * width + x1]) * fx
            return top * (1 - fy) + bottom * fy
        }
        for y in 0..<nh {
            for x in 0..<nw {
                let cx = (Double(x) + 0.5) * sx - 0.5, cy = (Double(y) + 0.5) * sy - 0.5
                out[y * nw + x] = Float(sample(0, cx, cy) / sx)
                out[nw * nh + y * nw + x] = Float(sample(1, cx, cy) / sy)
            }
        }
        return FlowField(width: nw, height: nh, values: out)
    }

    // MARK: Middlebury .flo files

    /// The .flo tag: the float 202021.25, "PIEH" in ASCII.
    static let floTag: Float = 202021.25
    /// Flow values of 1e9 or more mean "unknown" in the format; those read as 0.
    static let unknown: Float = 1e9

    /// A Middlebury .flo file: the tag, width and height (int32), then (u, v) per pixel in
    /// row order, all little-endian.
    public static func read(flo path: String, maxPixels: Int = ImageFile.defaultMaxPixels) throws -> FlowField {
        let data = try InputFile.read(path, maxBytes: 12 + 8 * maxPixels)
        let name = InputFile.display(path)
        guard data.count >= 12 else { throw FileError("\(name) is not a .flo file (too short)") }
        func word(_ i: Int) -> UInt32 {
            UInt32(data[data.startIndex + 4 * i]) | UInt32(data[data.startIndex + 4 * i + 1]) << 8
                | UInt32(data[data.startIndex + 4 * i + 2]) << 16 | UInt32(data[data.startIndex + 4 * i + 3]) << 24
        }
        guard Float(bitPattern: word(0)) == floTag else { throw FileError("\(name) is not a .flo file (no PIEH tag)") }
        let w = Int(Int32(bitPattern: word(1))), h = Int(Int32(bitPattern: word(2)))
        guard w > 0, h > 0, w <= 1 << 20, h <= 1 << 20, w * h <= maxPixels else {
            throw FileError("\(name): a .flo file of \(w)x\(h) pixels is not allowed")
        }
        guard data.count == 12 + 8 * w * h else {
            throw FileError("\(name): a \(w)x\(h) .flo file has \(12 + 8 * w * h) bytes, this one \(data.count)")
        }
        var values = [Float](repeating: 0, count: 2 * w * h)
        for p in 0..<(w * h) {
            let u = Float(bitPattern: word(3 + 2 * p)), v = Float(bitPattern: word(4 + 2 * p))
            guard !u.isNaN, !v.isNaN else { throw FileError("\(name) holds NaN flow values") }
            values[p] = abs(u) >= unknown ? 0 : u
            values[w * h + p] = abs(v) >= unknown ? 0 : v
        }
        return FlowField(width: w, height: h, values: values)
    }

    /// The field as a .flo file's bytes.
    public var floData: Data {
        var words: [UInt32] = [Self.floTag.bitPattern, UInt32(width), UInt32(height)]
        words.reserveCapacity(3 + 2 * width * height)
        for p in 0..<(width * height) {
            words.append(values[p].bitPattern)
            words.append(values[width * height + p].bitPattern)
        }
        var data = Data(capacity: 4 * words.count)
        for w in words { withUnsafeBytes(of: w.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    /// Writes a .flo file atomically (a temporary file, then a rename).
    public func write(flo path: String) throws {
        do { try floData.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw FileError("cannot write \(InputFile.display(path)): \(ErrorText.describe(error))")
        }
    }
}
