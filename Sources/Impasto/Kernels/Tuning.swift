import Foundation

/// Tunables chosen per device. None of them changes a result (they split the same arithmetic
/// differently), so a stale or foreign choice can only be slow, never wrong.
public struct Tuning: Codable, Equatable, CustomStringConvertible {
    /// Winograd tiles per pass: more amortise the launches, fewer keep the transformed input
    /// and product (V, M) small (memory, cache).
    public var winogradTiles: Int
    /// Local size of the Winograd GEMM (work-items along tiles/VW × output channels/OCB).
    public var gemmLocal: [Int]
    /// Work-items per group of the Winograd transforms (along tiles, or output channels for the
    /// weights): on POCL each group is one call with a fixed cost, so small groups of these
    /// light work-items spent more time in calls than in arithmetic.
    public var transformLocal: Int
    /// Tiles per work-item of the Winograd input and output transforms (cl/winograd.cl's TV):
    /// 16 makes every value one 16-wide vector (a CPU's SIMD; 3× faster than 1 on POCL), 1 is
    /// one tile per work-item, coalesced across work-items (a GPU's registers).
    public var transformTiles: Int

    public static let tileChoices = [256, 512, 1024, 2048]
    public static let gemmLocalChoices: [[Int]] = [[1, 1], [2, 2], [4, 4], [8, 8], [16, 4]]
    public static let transformLocalChoices = [1, 4, 16, 64, 128]
    public static let transformTilesChoices = [1, 16]

    /// Before any measurement: a POCL work-group runs on one core, so few work-items per group
    /// and vectors within the work-item there, and fewer tiles per pass (a CPU device's memory is
    /// the machine's); 8×8 GEMM groups and one tile per work-item on GPUs.
    public static func defaults(for device: Device) -> Tuning {
        device.isCPU ? Tuning(winogradTiles: 512, gemmLocal: [1, 1], transformLocal: 4, transformTiles: 16)
                     : Tuning(winogradTiles: 2048, gemmLocal: [8, 8], transformLocal: 64, transformTiles: 1)
    }

    /// Only the listed choices are accepted from a cache file.
    public var isValid: Bool {
        Self.tileChoices.contains(winogradTiles) && Self.gemmLocalChoices.contains(gemmLocal)
            && Self.transformLocalChoices.contains(transformLocal) && Self.transformTilesChoices.contains(transformTiles)
    }

    public var description: String {
        "winograd tiles per pass \(winogradTiles), gemm local \(gemmLocal.map(String.init).joined(separator: "x")), "
            + "transform tiles \(transformTiles) per work-item, \(transformLocal) per group"
    }
}

/// The short autotune run the first time a device is seen: each candidate is timed on a
/// Winograd convolution, greedily (the GEMM's local size, the transforms' tiles per work-item
/// and group size, then the fewest tiles per pass that are nearly as fast), and the
/// winner is kept in `<cache>/tuning.json`, keyed by device, driver, platform and the SHA-256
/// of every kernel source, so a new driver or changed kernels are tuned afresh.
public enum Autotune {
    nonisolated(unsafe) public static var file = CacheDirectory.url.appendingPathComponent("tuning.json")
    static let schema = 3

    public static func key(for device: Device) -> String {
        var h = SHA256()
        let sources = KernelSources.files.sorted { $0.key < $1.key }.map { $0.key + "\n" + $0.value }
        for part in ["schema \(schema)", device.name, device.vendor, device.driverVersion, device.version,
                     device.platformName, device.platformVersion] + sources {
            h.update(Data(part.utf8))
            h.update(Data([0]))
        }
        return h.finalize()
    }

    /// This device's tuning from the cache, or measured now (and cached): `measured` says which.
    /// `IMPASTO_AUTOTUNE=0` skips both and keeps the defaults.
    public static func tuning(for context: CLContext, shape: (c: Int, h: Int, w: Int) = (128, 128, 256)) throws -> (Tuning, measured: Bool) {
        if ProcessInfo.processInfo.environment["IMPASTO_AUTOTUNE"] == "0" { return (Tuning.defaults(for: context.device), false) }
        let key = key(for: context.device)
        var entries = (try? JSONDecoder().decode([String: Tuning].self, from: Data(contentsOf: file))) ?? [:]
        if let cached = entries[key], cached.isValid { return (cached, false) }
        let tuned = try measure(context, shape: shape)
        entries[key] = tuned
        store(entries)
        return (tuned, true)
    }

    /// Sets `context.tuning` (see `tuning(for:)`); returns whether it was measured now.
    @discardableResult
    public static func apply(to context: CLContext) throws -> Bool {
        let (t, measured) = try tuning(for: context)
        context.tuning = t
        return measured
    }

    static func measure(_ context: CLContext, shape: (c: Int, h: Int, w: Int)) throws -> Tuning {
        let (c, h, w) = shape
        var seed: UInt64 = 1
        let random = (0..<(c * h * w)).map { _ -> Float in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(seed >> 40) / Float(1 << 24) - 0.5
        }
        let input = try context.buffer(random), output = try context.buffer(floats: c * h * w)
        let weights = try context.buffer(Array(random.prefix(c * c * 9))), bias = try context.buffer(floats: c.roundedUp(to: Kernels.convOCB))
        try bias.fill(0)
        func seconds(_ t: Tuning) throws -> Double {
            let k = try Kernels(context: context, tuning: t)
            let scratch = WinogradScratch(maxTiles: t.winogradTiles)
            let run = { try k.winogradConv(input: input, weights: weights, flipped: false, bias: bias, output: output,
                                           cin: c, cout: c, height: h, width: w, scratch: scratch) }
            _ = try run()  // POCL specialises a kernel for its local size at the first launch
            try context.finish()
            // The median of 5: the candidates are often within a few percent of each other.
            let times = try (0..<5).map { _ in try run().reduce(0) { $0 + (try $1.seconds()) } }
            return times.sorted()[2]
        }
        var best = Tuning.defaults(for: context.device)
        /// Each choice's seconds, with the others as in `best`.
        func timed<T>(_ choices: [T], _ set: (inout Tuning, T) -> Void) throws -> [(Double, T)] {
            try choices.map { choice in
                var t = best
                set(&t, choice)
                return (try seconds(t), choice)
            }
        }
        func fastest<T>(_ choices: [T], _ set: (inout Tuning, T) -> Void) throws -> T {
            try timed(choices, set).min { $0.0 < $1.0 }!.1
        }
        best.gemmLocal = try fastest(Tuning.gemmLocalChoices) { $0.gemmLocal = $1 }
        best.transformTiles = try fastest(Tuning.transformTilesChoices) { $0.transformTiles = $1 }
        best.transformLocal = try fastest(Tuning.transformLocalChoices) { $0.transformLocal = $1 }
        // Tiles per pass only trade memory (V and M) against launches: the fewest within 5% of
        // the fastest (on POCL all were within its noise; 2048 cost 37 MB more than 256).
        let tileTimes = try timed(Tuning.tileChoices) { $0.winogradTiles = $1 }
        let fastestTime = tileTimes.map(\.0).min()!
        best.winogradTiles = tileTimes.filter { $0.0 <= fastestTime * 1.05 }.map(\.1).min()!
        return best
    }

    /// Written to a temporary name and renamed; a cache that cannot be written only costs the
    /// next start a tuning run.
    static func store(_ entries: [String: Tuning]) {
        let fm = FileManager.default
        let tmp = file.deletingLastPathComponent().appendingPathComponent(".tuning.\(getpid()).tmp")
        do {
            try fm.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(entries).write(to: tmp)
            if rename(tmp.path, file.path) != 0 { try? fm.removeItem(at: tmp) }
        } catch {
            try? fm.removeItem(at: tmp)
        }
    }
}
