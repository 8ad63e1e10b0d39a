import Foundation

/// Tunables chosen per device. None of them changes a result (they split the same arithmetic
/// differently), so a stale or foreign choice can only be slow, never wrong.
package struct Tuning: Codable, Equatable, CustomStringConvertible {
    /// Winograd tiles per pass: more amortise the launches, fewer keep the transformed input
    /// and product (V, M) small (memory, cache).
    package var winogradTiles: Int
    /// Local size of the Winograd GEMM (work-items along tiles/VW × output channels/OCB).
    package var gemmLocal: [Int]
    /// Work-items per group of the Winograd transforms (along tiles, or output channels for the
    /// weights): on POCL each group is one call with a fixed cost, so small groups of these
    /// light work-items spent more time in calls than in arithmetic.
    package var transformLocal: Int
    /// Tiles per work-item of the Winograd input and output transforms (cl/winograd.cl's TV):
    /// 16 makes every value one 16-wide vector (a CPU's SIMD; 3× faster than 1 on POCL), 1 is
    /// one tile per work-item, coalesced across work-items (a GPU's registers).
    package var transformTiles: Int

    package static let tileChoices = [256, 512, 1024, 2048]
    package static let gemmLocalChoices: [[Int]] = [[1, 1], [2, 2], [4, 4], [8, 8], [16, 4]]
    package static let transformLocalChoices = [1, 4, 16, 64, 128]
    package static let transformTilesChoices = [1, 16]

    /// Before any measurement: a POCL work-group runs on one core, so few work-items per group
    /// and vectors within the work-item there, and fewer tiles per pass (a CPU device's memory is
    /// the machine's); 8×8 GEMM groups and one tile per work-item on GPUs.
    package static func defaults(for device: Device) -> Tuning {
        device.isCPU ? Tuning(winogradTiles: 512, gemmLocal: [1, 1], transformLocal: 4, transformTiles: 16)
                     : Tuning(winogradTiles: 2048, gemmLocal: [8, 8], transformLocal: 64, transformTiles: 1)
    }

    /// Only the listed choices are accepted from a cache file.
    package var isValid: Bool {
        Self.tileChoices.contains(winogradTiles) && Self.gemmLocalChoices.contains(gemmLocal)
            && Self.transformLocalChoices.contains(transformLocal) && Self.transformTilesChoices.contains(transformTiles)
    }

    package var description: String {
        "winograd tiles per pass \(winogradTiles), gemm local \(gemmLocal.map(String.init).joined(separator: "x")), "
            + "transform tiles \(transformTiles) per work-item, \(transformLocal) per group"
    }
}

/// Where a context's tuning came from, said by `stylize`, `bench` and `profile`.
package enum TuningSource: Equatable, CustomStringConvertible {
    /// Read from the cache file.
    case cached
    /// Timed now (and cached): in `seconds` of wall time, with the device's profiling events or,
    /// where their clock is not plausible, the wall clock.
    case measured(seconds: Double, clock: String, complete: Bool)
    /// Not measured (and not cached): the defaults, and why.
    case defaults(String)
    /// `IMPASTO_AUTOTUNE=0`: the defaults, as the user asked.
    case disabled

    package var description: String {
        switch self {
        case .cached: return "cached"
        case .measured(let s, let clock, let complete):
            return String(format: "measured in %.1f s by the %@", s, clock) + (complete ? "" : ", stopped at its time budget")
        case .defaults(let why): return "default tuning: \(why)"
        case .disabled: return "default tuning (IMPASTO_AUTOTUNE=0)"
        }
    }
}

/// The short autotune run the first time a device is seen: each candidate is timed on a
/// Winograd convolution, greedily (the GEMM's local size, the transforms' tiles per work-item
/// and group size, then the fewest tiles per pass that are nearly as fast), and the
/// winner is kept in `<cache>/tuning.json`, keyed by device, driver, platform and the SHA-256
/// of every kernel source, so a new driver or changed kernels are tuned afresh.
///
/// It costs a few seconds on any device: a tiny probe convolution comes first, and a device
/// that takes longer than `Limits.probeSeconds` over it (a simulator such as oclgrind, or a
/// very slow driver) keeps the defaults untimed; otherwise candidates are timed until
/// `Limits.budgetSeconds` have passed, and the best so far is kept.
package enum Autotune {
    static let schema = 3

    package struct Limits {
        /// Wall seconds the probe (a 16-channel 16x16 Winograd conv, about 0.3 ms on POCL) may take.
        package var probeSeconds = 0.05
        /// Wall seconds for all the candidates together.
        package var budgetSeconds = 8.0
        package init(probeSeconds: Double = 0.05, budgetSeconds: Double = 8) {
            self.probeSeconds = probeSeconds
            self.budgetSeconds = budgetSeconds
        }
    }

    package static func key(for device: Device) -> String {
        var h = SHA256()
        let sources = KernelSources.files.sorted { $0.key < $1.key }.map { $0.key + "\n" + $0.value }
        for part in ["schema \(schema)", device.name, device.vendor, device.driverVersion, device.version,
                     device.platformName, device.platformVersion] + sources {
            h.update(Data(part.utf8))
            h.update(Data([0]))
        }
        return h.finalize()
    }

    /// This device's tuning from the cache, or measured now (and cached), or the defaults
    /// where measuring would be too slow; the source says which. `IMPASTO_AUTOTUNE=0` keeps
    /// the defaults.
    package static func tuning(for context: CLContext, shape: (c: Int, h: Int, w: Int) = (128, 128, 256),
                              limits: Limits = Limits()) throws -> (Tuning, TuningSource) {
        let defaults = Tuning.defaults(for: context.device)
        if !context.settings.autotune { return (defaults, .disabled) }
        let key = key(for: context.device)
        let file = context.settings.tuningFile
        var entries = (try? JSONDecoder().decode([String: Tuning].self, from: Data(contentsOf: file))) ?? [:]
        if let cached = entries[key], cached.isValid { return (cached, .cached) }
        let (tuned, source) = try context.recordingEvents { try measure(context, shape: shape, limits: limits) }
        if case .measured = source {
            entries[key] = tuned
            store(entries, in: file)
        }
        return (tuned, source)
    }

    /// Sets `context.tuning` (see `tuning(for:)`) and says where it came from.
    @discardableResult
    package static func apply(to context: CLContext) throws -> TuningSource {
        let (t, source) = try tuning(for: context)
        context.tuning = t
        // The per-layer convolution choice times shapes only where the tuning could time the device.
        switch source {
        case .cached, .measured: context.convChoices.enable(deviceKey: key(for: context.device) + " timed", file: context.settings.convChoicesFile)  // " timed": choices with their times
        case .defaults, .disabled: break
        }
        return source
    }

    static func randomFloats(_ n: Int) -> [Float] {
        var rng = SplitMix64(seed: 1)
        return rng.floats(n, scale: 0.5)
    }

    static func wallSeconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    static func measure(_ context: CLContext, shape: (c: Int, h: Int, w: Int), limits: Limits) throws -> (Tuning, TuningSource) {
        var best = Tuning.defaults(for: context.device)
        /// A Winograd conv of c channels on h×w with tuning t, as a closure that runs it once.
        func conv(_ t: Tuning, c: Int, h: Int, w: Int) throws -> () throws -> [Event] {
            let random = randomFloats(c * h * w)
            let input = try context.buffer(random), output = try context.buffer(floats: c * h * w)
            let weights = try context.buffer(Array(random.prefix(c * c * 9))), bias = try context.buffer(floats: c.roundedUp(to: Kernels.convOCB))
            try bias.fill(0)
            let k = try Kernels(context: context, tuning: t)
            let scratch = WinogradScratch(maxTiles: t.winogradTiles)
            return { try k.winogradConv(input: input, weights: weights, flipped: false, bias: bias, output: output,
                                        cin: c, cout: c, height: h, width: w, scratch: scratch) }
        }

        // The probe: compiled and run once first (POCL specialises a kernel at its first launch).
        let probe = try conv(best, c: 16, h: 16, w: 16)
        _ = try probe()
        try context.finish()
        let probeTime = try wallSeconds { _ = try probe(); try context.finish() }
        if probeTime > limits.probeSeconds {
            return (best, .defaults(String(format: "a 16-channel 16x16 probe convolution took %.0f ms (a simulator or a very slow device), so nothing was timed", 1000 * probeTime)))
        }

        let (c, h, w) = shape
        let started = DispatchTime.now().uptimeNanoseconds
        var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        // Profiling events are the precise clock, unless they are not plausible (rusticl on
        // llvmpipe reads about 1 ns for everything): then the wall clock, after a finish.
        var useEvents = true
        var complete = true
        /// The median of 5 runs (the candidates are often within a few percent of each other).
        func seconds(_ t: Tuning) throws -> Double {
            let run = try conv(t, c: c, h: h, w: w)
            _ = try run()
            try context.finish()
            var times: [Double] = []
            for _ in 0..<5 {
                var events: [Event] = []
                let wall = try wallSeconds { events = try run(); try context.finish() }
                let profiled = try events.reduce(0) { $0 + (try $1.seconds()) }
                if profiled < wall / 50 { useEvents = false }
                times.append(useEvents ? profiled : wall)
            }
            return times.sorted()[2]
        }
        /// Each choice's seconds, with the others as in `best`; choices left when the budget
        /// is spent are not timed.
        func timed<T>(_ choices: [T], _ set: (inout Tuning, T) -> Void) throws -> [(Double, T)] {
            var results: [(Double, T)] = []
            for choice in choices {
                if elapsed > limits.budgetSeconds && !results.isEmpty { complete = false; break }
                var t = best
                set(&t, choice)
                results.append((try seconds(t), choice))
            }
            return results
        }
        func fastest<T>(_ choices: [T], _ set: (inout Tuning, T) -> Void) throws -> T {
            try timed(choices, set).min { $0.0 < $1.0 }!.1
        }
        if elapsed <= limits.budgetSeconds { best.gemmLocal = try fastest(Tuning.gemmLocalChoices) { $0.gemmLocal = $1 } }
        if elapsed <= limits.budgetSeconds { best.transformTiles = try fastest(Tuning.transformTilesChoices) { $0.transformTiles = $1 } }
        if elapsed <= limits.budgetSeconds { best.transformLocal = try fastest(Tuning.transformLocalChoices) { $0.transformLocal = $1 } }
        // Tiles per pass only trade memory (V and M) against launches: the fewest within 5% of
        // the fastest (on POCL all were within its noise; 2048 cost 37 MB more than 256).
        if elapsed <= limits.budgetSeconds {
            let tileTimes = try timed(Tuning.tileChoices) { $0.winogradTiles = $1 }
            let fastestTime = tileTimes.map(\.0).min()!
            best.winogradTiles = tileTimes.filter { $0.0 <= fastestTime * 1.05 }.map(\.1).min()!
        } else {
            complete = false
        }
        return (best, .measured(seconds: elapsed, clock: useEvents ? "profiling events" : "wall clock (the profiling events were not plausible)",
                                complete: complete))
    }

    /// Written to a temporary name and renamed; a cache that cannot be written only costs the
    /// next start a tuning run.
    static func store<T: Encodable>(_ entries: T, in file: URL) {
        let fm = FileManager.default
        let tmp = file.deletingLastPathComponent().appendingPathComponent(".\(file.deletingPathExtension().lastPathComponent).\(getpid()).tmp")
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

extension CLContext {
    /// Applies this device's kernel tuning (work-group and tile sizes): from the cache, or
    /// measured now, once per device, driver and kernels, in a few seconds, and cached. An
    /// untuned context runs the defaults, correct but slower. Says where the tuning came from.
    @discardableResult
    public func tune() throws -> String { try Autotune.apply(to: self).description }
}
