import Foundation

/// Reads a `.safetensors` file: an 8-byte little-endian header length, a JSON header naming
/// each tensor's dtype, shape and byte range, then the raw data. F32, F16 and BF16 tensors
/// are read (as Float); anything malformed is refused with a message that names the problem.
package enum SafeTensors {
    package typealias Tensors = [String: (shape: [Int], values: [Float])]
    /// A shape check run on each kept tensor's declared shape before any of its data is read:
    /// a message when it is refused (a file may declare a 100 GB tensor).
    package typealias ShapeCheck = (String, [Int]) -> String?

    /// Reads the header, checks every kept entry, then reads only the kept tensors' bytes.
    package static func read(_ url: URL, only keep: (String) -> Bool = { _ in true },
                            check: ShapeCheck = { _, _ in nil }) throws -> Tensors {
        let file = try InputFile.Reader(url.path)
        return try parse(size: file.size, name: url.lastPathComponent, only: keep, check: check) { try file.read(at: $0, count: $1) }
    }

    package static func parse(_ data: Data, name: String, only keep: (String) -> Bool = { _ in true },
                             check: ShapeCheck = { _, _ in nil }) throws -> Tensors {
        let data = Data(data)  // indices from 0
        return try parse(size: data.count, name: name, only: keep, check: check) { data.subdata(in: $0..<($0 + $1)) }
    }

    /// `bytes(offset, count)` reads a range already checked to lie within `size`. Every
    /// number from the file is checked without overflowing before it is used.
    static func parse(size: Int, name: String, only keep: (String) -> Bool, check: ShapeCheck,
                      bytes: (Int, Int) throws -> Data) throws -> Tensors {
        func bad(_ why: String) -> WeightsError { WeightsError("\(name) is not a valid safetensors file: \(why)") }
        guard size >= 8 else { throw bad("too short") }
        let headerLength = try bytes(0, 8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(size - 8), headerLength < 100_000_000 else { throw bad("header length \(headerLength) exceeds the file") }
        let dataStart = 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: try bytes(8, Int(headerLength))) as? [String: Any] else {
            throw bad("the header is not a JSON object")
        }
        var planned: [(key: String, dtype: String, shape: [Int], begin: Int, count: Int)] = []
        for (key, value) in header where key != "__metadata__" && keep(key) {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shapeValues = info["shape"] as? [Any], let offsetValues = info["data_offsets"] as? [Any] else {
                throw bad("entry \(key) lacks dtype, shape or data_offsets")
            }
            let shape = shapeValues.compactMap { ($0 as? NSNumber)?.int64Value }, offsets = offsetValues.compactMap { ($0 as? NSNumber)?.int64Value }
            guard shape.count == shapeValues.count, offsets.count == 2 else { throw bad("entry \(key) has a malformed shape or data_offsets") }
            guard shape.allSatisfy({ $0 >= 0 && $0 <= Int64(Int32.max) }) else { throw bad("\(key) has shape \(shape)") }
            let dims = shape.map { Int($0) }
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F16", "BF16": width = 2
            default: throw WeightsError("\(name): tensor \(key) has dtype \(dtype); only F32, F16 and BF16 are supported")
            }
            if let why = check(key, dims) { throw WeightsError("\(name): \(why)") }
            var count = 1
            for d in dims {
                let (p, o) = count.multipliedReportingOverflow(by: d)
                guard !o else { throw bad("\(key)'s shape \(dims) has more elements than can be counted") }
                count = p
            }
            let (byteCount, o) = count.multipliedReportingOverflow(by: width)
            let begin = offsets[0], end = offsets[1]
            guard !o, begin >= 0, end >= begin, end <= Int64(size - dataStart), end - begin == Int64(byteCount) else {
                throw bad("\(key)'s byte range \(begin)..<\(end) does not fit the file or its shape \(dims)")
            }
            planned.append((key, dtype, dims, dataStart + Int(begin), count))
        }
        var out: Tensors = [:]
        for t in planned {
            let width = t.dtype == "F32" ? 4 : 2
            out[t.key] = (t.shape, decode(try bytes(t.begin, t.count * width), dtype: t.dtype, count: t.count))
        }
        return out
    }

    static func decode(_ bytes: Data, dtype: String, count: Int) -> [Float] {
        bytes.withUnsafeBytes { raw -> [Float] in
            switch dtype {
            case "F32":
                return (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            case "BF16":
                return (0..<count).map { Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) << 16) }
            default:
                return (0..<count).map { Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)))) }
            }
        }
    }
}
