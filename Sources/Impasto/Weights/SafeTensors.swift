import Foundation

/// Reads a `.safetensors` file: an 8-byte little-endian header length, a JSON header naming
/// each tensor's dtype, shape and byte range, then the raw data. F32, F16 and BF16 tensors
/// are read (as Float); anything malformed is refused with a message that names the problem.
public enum SafeTensors {
    public static func read(_ url: URL, only keep: (String) -> Bool = { _ in true }) throws -> [String: (shape: [Int], values: [Float])] {
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw WeightsError("cannot read \(url.path): \(error.localizedDescription)")
        }
        return try parse(data, name: url.lastPathComponent, only: keep)
    }

    public static func parse(_ data: Data, name: String, only keep: (String) -> Bool = { _ in true }) throws -> [String: (shape: [Int], values: [Float])] {
        func bad(_ why: String) -> WeightsError { WeightsError("\(name) is not a valid safetensors file: \(why)") }
        guard data.count >= 8 else { throw bad("too short") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8), headerLength < 100_000_000 else { throw bad("header length \(headerLength) exceeds the file") }
        let dataStart = 8 + Int(headerLength)
        guard let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart)) as? [String: Any] else {
            throw bad("the header is not a JSON object")
        }
        var out: [String: (shape: [Int], values: [Float])] = [:]
        for (key, value) in header where key != "__metadata__" && keep(key) {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = (info["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offsets = (info["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  offsets.count == 2 else { throw bad("entry \(key) lacks dtype, shape or data_offsets") }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw bad("\(key) has shape \(shape)") }
            let count = shape.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F16", "BF16": width = 2
            default: throw WeightsError("\(name): tensor \(key) has dtype \(dtype); only F32, F16 and BF16 are supported")
            }
            let begin = offsets[0], end = offsets[1]
            guard begin >= 0, end >= begin, dataStart + end <= data.count, end - begin == count * width else {
                throw bad("\(key)'s byte range \(begin)..<\(end) does not fit the file or its shape \(shape)")
            }
            let bytes = data.subdata(in: (dataStart + begin)..<(dataStart + end))
            out[key] = (shape, decode(bytes, dtype: dtype, count: count))
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
