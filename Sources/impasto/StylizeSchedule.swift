import ArgumentParser
import Foundation
import Impasto

/// `stylize`: the output size and the schedule over scales, from the options.
extension Stylize {
    /// The sizes of a coarse-to-fine run, smallest first, the output size last: halving from
    /// the output size (--scales), or at the given longer sides (--scale-sizes).
    func scaleSchedule(_ w: Int, _ h: Int) throws -> [(Int, Int)] {
        let long = max(w, h)
        var factors: [Double]
        if let list = scaleSizes {
            let sides = try list.split(separator: ",", omittingEmptySubsequences: false).map { part -> Int in
                guard let v = Int(part.trimmingCharacters(in: .whitespaces)), v > 0 else {
                    throw ValidationError("--scale-sizes: '\(part)' is not a positive whole number")
                }
                return v
            }
            guard zip(sides, sides.dropFirst()).allSatisfy({ $0 < $1 }), sides.last! <= long, sides.count <= 8 else {
                throw ValidationError("--scale-sizes must increase, at most 8 of them, none above the output's longer side \(long)")
            }
            factors = sides.map { Double($0) / Double(long) }
            if sides.last! < long { factors.append(1) }
        } else {
            factors = (0..<scales).reversed().map { 1 / pow(2, Double($0)) }
        }
        let sizes = factors.map { f in (Int((Double(w) * f).rounded()), Int((Double(h) * f).rounded())) }
        guard sizes[0].0 >= VGG19.minimumSide, sizes[0].1 >= VGG19.minimumSide else {
            throw ValidationError("the first scale would be \(sizes[0].0)x\(sizes[0].1), below VGG19's \(VGG19.minimumSide)x\(VGG19.minimumSide): use fewer --scales or larger --scale-sizes")
        }
        return sizes
    }

    /// Iterations at each scale: --scale-iterations, or --iterations at each scale when given,
    /// else the default count at the first scale and half as many at each next (at least 50):
    /// each finer scale starts close to its result and costs 4× more per iteration.
    func iterationSchedule(scales n: Int) throws -> [Int] {
        if let list = scaleIterations {
            let counts = try list.split(separator: ",", omittingEmptySubsequences: false).map { part -> Int in
                guard let v = Int(part.trimmingCharacters(in: .whitespaces)), (0...StylizeRequest.maxIterations).contains(v) else {
                    throw ValidationError("--scale-iterations: '\(part)' is not a whole number from 0 to \(StylizeRequest.maxIterations)")
                }
                return v
            }
            guard counts.count == n else { throw ValidationError("--scale-iterations has \(counts.count) counts for \(n) scales") }
            return counts
        }
        if let iterations { return Array(repeating: iterations, count: n) }
        let first = demo ? 100 : 500
        return (0..<n).map { $0 == 0 ? first : max(min(first, 50), first >> $0) }
    }

    /// --max-memory, or the default for the device (`Objectives.defaultLimit`); never more than the device has.
    func deviceMemoryLimit(_ device: Device) throws -> Int {
        guard let text = maxMemory else { return Objectives.defaultLimit(device) }
        return min(try parseBytes(text), Int(device.globalMemBytes))
    }

    func checkedSize(_ s: (Int, Int)) throws -> (Int, Int) {
        guard s.0 >= VGG19.minimumSide, s.1 >= VGG19.minimumSide else {
            throw ValidationError("size \(s.0)x\(s.1) is too small: VGG19's four poolings need at least \(VGG19.minimumSide)x\(VGG19.minimumSide)")
        }
        try HostMemory.check(width: s.0, height: s.1, what: "the output")  // tiles bound the device's share, not the host's
        return s
    }

    func outputSize(for picture: RGBImage) throws -> (Int, Int) {
        if let m = maxSize {
            let f = picture.fittedSize(maxSide: m)
            return try checkedSize((f.width, f.height))
        }
        return try checkedSize(try parseSize(size ?? (demo ? "256x192" : "500x400")))
    }
}
