import COpenCL
import Foundation

/// Compiled programs kept on disk so that a second run starts without compiling (the scheme of
/// ggml-opencl): a binary is keyed by the SHA-256 of its source, build options, device, driver
/// and platform, written atomically, and any failure to load it falls back to compiling the
/// source. Off on POCL by default: POCL caches compiled kernels itself (`$POCL_CACHE_DIR`), and
/// asking it for a program's binary costs one more compile. `IMPASTO_PROGRAM_CACHE=1` turns it
/// on there too, `=0` turns it off everywhere.
public enum ProgramCache {
    /// Where binaries go: `<cache>/programs` (see `CacheDirectory`).
    nonisolated(unsafe) public static var directory = CacheDirectory.url.appendingPathComponent("programs")

    public static func enabled(for device: Device) -> Bool {
        switch ProcessInfo.processInfo.environment["IMPASTO_PROGRAM_CACHE"] {
        case "1": return true
        case "0": return false
        default: return !device.platformName.lowercased().contains("portable computing language")
        }
    }

    static func key(source: String, options: String, device: Device) -> String {
        var h = SHA256()
        for part in [source, options, device.name, device.vendor, device.driverVersion, device.version, device.platformName, device.platformVersion] {
            h.update(Data(part.utf8))
            h.update(Data([0]))
        }
        return h.finalize()
    }

    static func file(_ key: String) -> URL { directory.appendingPathComponent(key + ".bin") }

    static func load(_ key: String) -> Data? { try? Data(contentsOf: file(key)) }

    /// Writes to a temporary name and renames, so a reader never sees half a binary.
    static func store(_ binary: Data, key: String) {
        let fm = FileManager.default
        let tmp = directory.appendingPathComponent(".\(key).\(getpid()).tmp")
        do {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
            try binary.write(to: tmp)
            if rename(tmp.path, file(key).path) != 0 { try? fm.removeItem(at: tmp) }
        } catch {
            try? fm.removeItem(at: tmp)  // a cache that cannot be written only costs start-up time
        }
    }
}

/// `$XDG_CACHE_HOME/impasto`, else `~/.cache/impasto`: downloaded weights, program binaries,
/// tuning results.
public enum CacheDirectory {
    public static var url: URL {
        let env = ProcessInfo.processInfo.environment
        if let x = env["XDG_CACHE_HOME"], !x.isEmpty { return URL(fileURLWithPath: x).appendingPathComponent("impasto") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/impasto")
    }
}
