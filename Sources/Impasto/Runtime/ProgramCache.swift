import COpenCL
import Foundation

/// Compiled programs kept on disk so that a second run starts without compiling (the scheme of
/// ggml-opencl): a binary is keyed by the SHA-256 of its source, build options, device, driver
/// and platform, written atomically, and any failure to load it falls back to compiling the
/// source. Off by default where `DriverQuirks` says so (POCL caches compiled kernels itself and
/// asking it for a binary costs a compile; Intel's CPU runtime drops the argument types of
/// programs built from binaries). `IMPASTO_PROGRAM_CACHE=1` turns it on there too, `=0` off everywhere.
package enum ProgramCache {
    /// `settings.programCache`, else what the device's quirks say.
    package static func enabled(for device: Device, settings: RuntimeSettings) -> Bool {
        settings.programCache ?? !DriverQuirks.of(device).contains { $0.effect == .noProgramCache }
    }

    static func key(source: String, options: String, device: Device) -> String {
        var h = SHA256()
        for part in [source, options, device.name, device.vendor, device.driverVersion, device.version, device.platformName, device.platformVersion] {
            h.update(Data(part.utf8))
            h.update(Data([0]))
        }
        return h.finalize()
    }

    static func file(_ key: String, in directory: URL) -> URL { directory.appendingPathComponent(key + ".bin") }

    /// A cached file is "IMPB", the binary's length (8 bytes, little-endian), its SHA-256 (64
    /// hex digits), then the binary: a truncated or damaged file is never handed to the driver
    /// (some crash inside clCreateProgramWithBinary on one).
    static let magic = Data("IMPB".utf8)

    static func load(_ key: String, from directory: URL) -> Data? {
        guard let file = try? InputFile.Reader(file(key, in: directory).path), file.size >= 76, file.size < 1 << 30,
              let all = try? file.read(at: 0, count: file.size), all.prefix(4) == magic else { return nil }
        let length = all[4..<12].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        guard length == all.count - 76 else { return nil }
        let binary = all.subdata(in: 76..<all.count)
        var h = SHA256()
        h.update(binary)
        return h.finalize() == String(decoding: all[12..<76], as: UTF8.self) ? binary : nil
    }

    /// Writes to a temporary name and renames, so a reader never sees half a binary.
    static func store(_ binary: Data, key: String, in directory: URL) {
        let fm = FileManager.default
        let tmp = directory.appendingPathComponent(".\(key).\(getpid()).tmp")
        var h = SHA256()
        h.update(binary)
        let framed = magic + Data((0..<8).map { UInt8((binary.count >> (8 * $0)) & 0xFF) }) + Data(h.finalize().utf8) + binary
        do {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
            try framed.write(to: tmp)
            if rename(tmp.path, file(key, in: directory).path) != 0 { try? fm.removeItem(at: tmp) }
        } catch {
            try? fm.removeItem(at: tmp)  // a cache that cannot be written only costs start-up time
        }
    }
}

/// The cache folder (`RuntimeSettings.cacheDirectory`): downloaded weights, program binaries,
/// tuning results.
package enum CacheDirectory {
    /// Makes the directory, or says in one line what is wrong with it.
    package static func create(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw FileError("cannot use the cache directory \(InputFile.display(url.path)) (from XDG_CACHE_HOME or HOME): \(problem(url.path) ?? "it cannot be created")")
        }
    }

    /// What is wrong with a cache folder (it or a parent is a file, or it is not writable), nil if nothing.
    package static func problem(_ path: String) -> String? {
        var p = URL(fileURLWithPath: path)
        while true {
            var st = stat()
            if stat(p.path, &st) == 0 {
                if st.st_mode & S_IFMT != S_IFDIR { return "\(InputFile.display(p.path)) is not a directory" }
                return access(p.path, W_OK | X_OK) == 0 ? nil : "\(InputFile.display(p.path)) is not writable"
            }
            let parent = p.deletingLastPathComponent()
            if parent.path == p.path { return nil }
            p = parent
        }
    }
}
