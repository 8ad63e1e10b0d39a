import Foundation

/// What the runtime is told rather than finds out for itself: where its caches live, whether
/// to autotune and to keep compiled programs, and oclgrind's buffer workaround.
/// `fromEnvironment` (with `WeightsSource.fromEnvironment`) is the one place the library reads
/// environment variables; a program embedding Impasto can build its own settings instead.
public struct RuntimeSettings: Sendable {
    /// Program binaries and tuning results (and, by default, downloaded weights).
    public var cacheDirectory: URL
    /// false: the kernels' default tuning, nothing timed (IMPASTO_AUTOTUNE=0).
    public var autotune = true
    /// Program binaries kept on disk: nil as `DriverQuirks` says (IMPASTO_PROGRAM_CACHE=1/0).
    public var programCache: Bool?
    /// Never release device memory: nil as `DriverQuirks` says (kept on oclgrind, see its
    /// `oclgrind-reused-slot` quirk), or forced (IMPASTO_KEEP_BUFFERS=1/0).
    public var keepReleasedBuffers: Bool?
    public init(cacheDirectory: URL) { self.cacheDirectory = cacheDirectory }

    public var tuningFile: URL { cacheDirectory.appendingPathComponent("tuning.json") }
    /// Each convolution shape's fastest kernel per device (see `ConvChoices`).
    public var convChoicesFile: URL { cacheDirectory.appendingPathComponent("conv-choices.json") }
    public var programDirectory: URL { cacheDirectory.appendingPathComponent("programs") }

    /// `$XDG_CACHE_HOME/impasto`, else `~/.cache/impasto`, and the IMPASTO_* variables above.
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> RuntimeSettings {
        let cache = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0).appendingPathComponent("impasto") }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/impasto")
        var s = RuntimeSettings(cacheDirectory: cache)
        s.autotune = env["IMPASTO_AUTOTUNE"] != "0"
        switch env["IMPASTO_PROGRAM_CACHE"] {
        case "1": s.programCache = true
        case "0": s.programCache = false
        default: s.programCache = nil
        }
        switch env["IMPASTO_KEEP_BUFFERS"] {
        case "1": s.keepReleasedBuffers = true
        case "0": s.keepReleasedBuffers = false
        default: s.keepReleasedBuffers = nil
        }
        return s
    }
}
