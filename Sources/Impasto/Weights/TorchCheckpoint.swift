import Foundation

/// Reads the tensors of a PyTorch `.pth` state dict in either serialisation torch writes: the
/// zip archive (torch ≥ 1.6) and the legacy stream (the official `vgg19-dcbb9e9d.pth`), through
/// `Pickle`, which executes nothing. Only float32 tensors are supported.
package enum TorchCheckpoint {
    package typealias Tensors = [String: (shape: [Int], values: [Float])]

    package static func read(_ url: URL, only keep: (String) -> Bool = { _ in true },
                            check: SafeTensors.ShapeCheck = { _, _ in nil }) throws -> Tensors {
        try read(url, data: InputFile.read(url.path, maxBytes: WeightsFile.maxBytes), only: keep, check: check)
    }

    /// `data`: the file's bytes (read, not mapped). `check` sees each kept tensor's shape
    /// before its data is touched.
    static func read(_ url: URL, data: Data, only keep: (String) -> Bool, check: SafeTensors.ShapeCheck) throws -> Tensors {
        let name = url.lastPathComponent
        do {
            if data.starts(with: [0x50, 0x4B, 0x03, 0x04]) { return try readZip(data, name: name, keep: keep, check: check) }
            if data.starts(with: [0x80]) { return try readLegacy(data, name: name, keep: keep, check: check) }
        } catch let e as Pickle.Failure {
            throw WeightsError(e.description)
        }
        throw WeightsError("\(name) is not a PyTorch checkpoint (neither a zip archive nor a legacy pickle stream)")
    }

    // MARK: zip archive

    static func readZip(_ data: Data, name: String, keep: (String) -> Bool, check: SafeTensors.ShapeCheck) throws -> Tensors {
        let entries = try ZipDirectory(data, name: name)
        guard let pklName = entries.names.first(where: { $0.hasSuffix("/data.pkl") || $0 == "data.pkl" }) else {
            throw WeightsError("\(name): the archive has no data.pkl")
        }
        let prefix = String(pklName.dropLast("data.pkl".count))
        let (root, _) = try Pickle.load(try entries.contents(pklName), name: name)
        return try materialize(root, name: name, keep: keep, check: check) { storage in
            try entries.contents(prefix + "data/" + storage.key)
        }
    }

    // MARK: legacy stream

    /// The legacy layout: magic number, protocol version, system info, the state dict, the list
    /// of storage keys, then each storage as an 8-byte element count and its raw bytes.
    static func readLegacy(_ data: Data, name: String, keep: (String) -> Bool, check: SafeTensors.ShapeCheck) throws -> Tensors {
        let magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]  // 0x1950a86a20f9469cfc6c
        let (m, p1) = try Pickle.load(data, name: name)
        guard case .bigInt(let bytes) = m, bytes == magic else {
            throw WeightsError("\(name): not a PyTorch legacy checkpoint (wrong magic number)")
        }
        let (version, p2) = try Pickle.load(data, at: p1, name: name)
        guard case .int(1001) = version else { throw WeightsError("\(name): unsupported legacy protocol version") }
        let (sysInfo, p3) = try Pickle.load(data, at: p2, name: name)
        if case .dict(let d) = sysInfo, let le = d.items.first(where: { if case .string("little_endian") = $0.0 { return true }; return false }),
           case .bool(false) = le.1 {
            throw WeightsError("\(name): big-endian checkpoints are not supported")
        }
        let (root, p4) = try Pickle.load(data, at: p3, name: name)
        let (keysValue, p5) = try Pickle.load(data, at: p4, name: name)
        guard case .list(let keyList) = keysValue else { throw WeightsError("\(name): malformed storage key list") }
        // Locate each storage's bytes (skipping, not reading, the ones no kept tensor needs).
        var located: [String: Range<Int>] = [:]
        var pos = p5
        for case .string(let key) in keyList.items {
            guard data.count - pos >= 8 else { throw WeightsError("\(name): truncated storage data") }
            let count = data.subdata(in: pos..<(pos + 8)).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            let size = count.multipliedReportingOverflow(by: 4)
            guard count >= 0, !size.overflow, size.partialValue <= data.count - pos - 8 else {
                throw WeightsError("\(name): truncated storage data")
            }
            located[key] = (pos + 8)..<(pos + 8 + size.partialValue)
            pos += 8 + size.partialValue
        }
        return try materialize(root, name: name, keep: keep, check: check) { storage in
            guard let range = located[storage.key] else { throw WeightsError("\(name): storage \(storage.key) is missing") }
            return data.subdata(in: range)
        }
    }

    // MARK: tensors

    static func materialize(_ root: Pickle.Value, name: String, keep: (String) -> Bool, check: SafeTensors.ShapeCheck,
                            storage: (Pickle.StorageRef) throws -> Data) throws -> Tensors {
        guard case .dict(let dict) = root else { throw WeightsError("\(name): the checkpoint is not a state dict") }
        var out: Tensors = [:]
        for (k, v) in dict.items {
            guard case .string(let key) = k else { throw WeightsError("\(name): a state-dict key is not a string") }
            guard keep(key) else { continue }
            guard case .tensor(let t) = v else { throw WeightsError("\(name): \(key) is not a tensor") }
            guard t.shape.allSatisfy({ $0 >= 0 }), t.shape.count == t.stride.count else { throw WeightsError("\(name): \(key) has shape \(t.shape)") }
            if let why = check(key, t.shape) { throw WeightsError("\(name): \(why)") }
            // Every number here comes from the file: checked arithmetic, no trap.
            var count = 1
            for d in t.shape {
                let (p, o) = count.multipliedReportingOverflow(by: d)
                guard !o else { throw WeightsError("\(name): \(key)'s shape \(t.shape) has more elements than can be counted") }
                count = p
            }
            guard t.offset >= 0, t.offset <= t.storage.count, count <= t.storage.count - t.offset else {
                throw WeightsError("\(name): \(key) reaches past its storage")
            }
            var expected = 1
            for (size, stride) in zip(t.shape, t.stride).reversed() {
                guard size == 1 || stride == expected else { throw WeightsError("\(name): \(key) is not contiguous") }
                expected *= size
            }
            let bytes = try storage(t.storage)
            guard t.offset + count <= bytes.count / 4 else { throw WeightsError("\(name): \(key)'s storage is truncated") }
            let values = SafeTensors.decode(bytes.subdata(in: (t.offset * 4)..<((t.offset + count) * 4)), dtype: "F32", count: count)
            out[key] = (t.shape, values)
        }
        return out
    }
}

/// The central directory of a zip archive whose entries are stored uncompressed (as torch
/// writes them).
struct ZipDirectory {
    private var entries: [String: Range<Int>] = [:]
    let data: Data
    let name: String
    var names: [String] { Array(entries.keys) + Array(compressedNames) }

    init(_ data: Data, name: String) throws {
        self.data = data
        self.name = name
        func u16(_ p: Int) -> Int { Int(data[p]) | Int(data[p + 1]) << 8 }
        func u32(_ p: Int) -> Int { u16(p) | u16(p + 2) << 16 }
        let bad = WeightsError("\(name): damaged zip archive")
        var eocd = -1
        var p = data.count - 22
        while p >= max(0, data.count - 22 - 65_535) {
            if u32(p) == 0x0605_4B50 { eocd = p; break }
            p -= 1
        }
        guard eocd >= 0 else { throw bad }
        let count = u16(eocd + 10), dirOffset = u32(eocd + 16)
        var q = dirOffset
        for _ in 0..<count {
            guard q + 46 <= data.count, u32(q) == 0x0201_4B50 else { throw bad }
            let method = u16(q + 10), compressed = u32(q + 20), size = u32(q + 24)
            let nameLen = u16(q + 28), extraLen = u16(q + 30), commentLen = u16(q + 32), local = u32(q + 42)
            guard q + 46 + nameLen <= data.count else { throw bad }
            let entryName = String(decoding: data.subdata(in: (q + 46)..<(q + 46 + nameLen)), as: UTF8.self)
            guard compressed != 0xFFFF_FFFF, local != 0xFFFF_FFFF else {
                throw WeightsError("\(name): zip64 archives are not supported")
            }
            guard local + 30 <= data.count, u32(local) == 0x0403_4B50 else { throw bad }
            let start = local + 30 + u16(local + 26) + u16(local + 28)
            guard start + compressed <= data.count else { throw bad }
            if method == 0 && compressed == size { entries[entryName] = start..<(start + compressed) }
            else if method != 0 { entries[entryName] = nil; compressedNames.insert(entryName) }
            q += 46 + nameLen + extraLen + commentLen
        }
    }

    private var compressedNames: Set<String> = []

    func contents(_ entry: String) throws -> Data {
        if compressedNames.contains(entry) {
            throw WeightsError("\(name): \(entry) is compressed inside the zip (torch writes checkpoints uncompressed; load and torch.save it again, or use .safetensors)")
        }
        guard let r = entries[entry] else { throw WeightsError("\(name): the archive has no \(entry)") }
        return data.subdata(in: r)
    }
}
