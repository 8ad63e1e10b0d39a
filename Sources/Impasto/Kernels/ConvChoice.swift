import Foundation

/// One direction of one 3×3 convolution: `cin` → `cout` channels on an h×w map; `backward`
/// is the backward-data pass of the conv `cout` → `cin` (the same arithmetic with the rotated,
/// transposed kernel; Winograd transforms its weights differently).
package struct ConvShape: Hashable, Sendable, CustomStringConvertible {
    package let cin, cout, height, width: Int
    package let backward: Bool
    package init(cin: Int, cout: Int, height: Int, width: Int, backward: Bool) {
        (self.cin, self.cout, self.height, self.width, self.backward) = (cin, cout, height, width, backward)
    }

    /// Maps larger than this on a side are timed (and cached) at this size: past it the time
    /// per pixel no longer depends on the size, and the autotune stays within its budget.
    static let timedSide = 64

    /// The shape the autotune times and caches for this one.
    var timed: ConvShape {
        ConvShape(cin: cin, cout: cout, height: min(height, Self.timedSide), width: min(width, Self.timedSide), backward: backward)
    }

    package var description: String { "\(backward ? "bwd" : "fwd") \(cin)->\(cout) \(width)x\(height)" }
    /// 2·Cin·Cout·9·H·W: every algorithm counted as the direct convolution, so they compare fairly.
    package var flops: Double {
        let products: Int = cin * cout * 9 * height * width
        return 2 * Double(products)
    }
    /// The least the convolution must move: its input, its output and the direct weights, once each.
    package var bytes: Double {
        let pixels = height * width
        let values: Int = cin * pixels + cout * pixels + cin * cout * 9
        return 4 * Double(values)
    }
}

/// The kernel one direction of a convolution runs on.
package enum ConvKernel: Hashable, Sendable, CustomStringConvertible {
    /// cl/winograd.cl: F(4x4, 3x3), 4× fewer multiplies; wins on large maps with many channels.
    case winograd
    /// cl/conv3x3.cl: vectorised along x; the RGB layers, and mid-sized maps.
    case direct
    /// cl/conv_small.cl with a block of px × py pixels: vectorised along output channels, for
    /// small maps with many channels.
    case small(px: Int, py: Int)

    package var description: String {
        switch self {
        case .winograd: return "winograd"
        case .direct: return "direct"
        case .small(let px, let py): return "small-\(px)x\(py)"
        }
    }

    package init?(_ text: String) {
        switch text {
        case "winograd": self = .winograd
        case "direct": self = .direct
        default:
            let parts = text.split(separator: "-")
            guard parts.count == 2, parts[0] == "small" else { return nil }
            let block = parts[1].split(separator: "x").compactMap { Int($0) }
            guard block.count == 2, Self.smallBlocks.contains(where: { $0 == (block[0], block[1]) }) else { return nil }
            self = .small(px: block[0], py: block[1])
        }
    }

    /// The small-map blocks the autotune times (the fastest differ by shape and device).
    static let smallBlocks = [(8, 1), (4, 2), (8, 2), (16, 1), (4, 3)]

    /// Every kernel that can run `shape`: Winograd where both channel counts amortise its
    /// transforms, the small-map kernel where the outputs fill its 16-channel vectors.
    static func candidates(for shape: ConvShape) -> [ConvKernel] {
        var all: [ConvKernel] = [.direct]
        if Kernels.prefersWinograd(cin: shape.cin, cout: shape.cout) { all.append(.winograd) }
        if Kernels.smallMapFits(cout: shape.cout) { all += smallBlocks.map { .small(px: $0.0, py: $0.1) } }
        return all
    }

    /// What a forced `ConvAlgorithm` runs, and `auto` before anything is measured: Winograd
    /// wherever it can (what every run did before the per-layer choice), else direct.
    static func forced(_ algorithm: ConvAlgorithm, for shape: ConvShape) -> ConvKernel {
        switch algorithm {
        case .auto, .winograd: return Kernels.prefersWinograd(cin: shape.cin, cout: shape.cout) ? .winograd : .direct
        case .direct: return .direct
        case .smallMap:
            guard Kernels.smallMapFits(cout: shape.cout) else { return .direct }
            let b = Kernels.smallBlock(width: shape.width, height: shape.height)
            return .small(px: b.px, py: b.py)
        }
    }
}

/// Each convolution shape's fastest kernel on one device, measured the first time a run needs
/// that shape (once the context is tuned: `CLContext.tune()`) and kept in
/// `<cache>/conv-choices.json` under the autotune's device key, so later runs only look up;
/// every candidate's time is kept beside the choice ("SHAPE KERNEL s"), for `impasto plan`'s
/// estimates.
/// An untuned context, or one whose device is too slow to time (a simulator), runs
/// `ConvKernel.forced(.auto, …)`. Every kernel computes the same convolution (each is held to
/// a CPU reference by the tests); they differ only in rounding.
package final class ConvChoices: @unchecked Sendable {
    /// The choices and times of one device key and cache file, and the timing budget spent on
    /// them, shared by every context of this process whose device has that key (two identical
    /// GPUs, POCL's devices of one CPU): they run the same kernels, so a batch over them paints
    /// the same bits on each, and a shape is timed once (the second device waits under the
    /// lock for the first's timing). Each timed its shapes alone before, and two workers could
    /// choose differently for one shape from noisy timings.
    private final class Shared: @unchecked Sendable {
        let lock = NSLock()
        var entries: [String: String] = [:]
        var spentSeconds = 0.0
    }
    private final class Registry: @unchecked Sendable {
        let lock = NSLock()
        var shared: [String: Shared] = [:]
    }
    private static let registry = Registry()
    private var shared = Shared()
    private var lock: NSLock { shared.lock }
    private var entries: [String: String] {
        get { shared.entries }
        set { shared.entries = newValue }
    }
    private var deviceKey = ""
    private var file: URL?
    /// Whether new shapes are timed (set by `Autotune.apply` when it could time the device).
    private(set) var measuring = false
    /// Wall seconds this context spent timing so far (the budget counts all contexts of its key).
    private(set) var spentSeconds = 0.0
    /// The time the contexts of one device key may spend timing shapes, over all their runs
    /// (the autotune's own budget).
    let budgetSeconds: Double
    /// Every lookup's answer in this context, and whether it was measured now, cached or assumed.
    private(set) var made: [ConvShape: (ConvKernel, String)] = [:]

    init(budgetSeconds: Double = Autotune.Limits().budgetSeconds) { self.budgetSeconds = budgetSeconds }

    /// Starts timing new shapes for `deviceKey`, with the choices `file` holds.
    func enable(deviceKey key: String, file: URL) {
        let registry = Self.registry
        registry.lock.lock()
        let id = key + "\n" + file.path
        if let existing = registry.shared[id] {
            shared = existing
        } else {
            let all = (try? JSONDecoder().decode([String: [String: String]].self, from: Data(contentsOf: file))) ?? [:]
            shared = Shared()
            shared.entries = all[key] ?? [:]
            registry.shared[id] = shared
        }
        registry.lock.unlock()
        lock.lock()
        defer { lock.unlock() }
        deviceKey = key
        self.file = file
        measuring = true
    }

    /// The kernel for `shape` under `algorithm`: forced ones as asked; `auto` from the cache, or
    /// timed now (see the type), or the untimed rule.
    func kernel(for shape: ConvShape, algorithm: ConvAlgorithm, kernels: Kernels) throws -> ConvKernel {
        guard algorithm == .auto else { return ConvKernel.forced(algorithm, for: shape) }
        let timed = shape.timed
        lock.lock()
        defer { lock.unlock() }
        if let cached = entries[timed.description].flatMap(ConvKernel.init) {
            made[shape] = (cached, "cached")
            return cached
        }
        guard measuring, shared.spentSeconds < budgetSeconds else {
            let rule = ConvKernel.forced(.auto, for: shape)
            made[shape] = (rule, measuring ? "untimed: the autotune's budget is spent" : "untimed")
            return rule
        }
        let start = DispatchTime.now().uptimeNanoseconds
        let times = try kernels.context.allocatingForReal {
            try kernels.context.recordingEvents { try Self.times(for: timed, kernels: kernels) }
        }
        let best = times.min { $0.seconds < $1.seconds }!.kernel
        let spent = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        spentSeconds += spent
        shared.spentSeconds += spent
        entries[timed.description] = best.description
        for t in times { entries[Self.timeKey(timed, t.kernel)] = String(t.seconds) }
        made[shape] = (best, "timed now")
        store()
        return best
    }

    /// The kernel each shape got, as `impasto bench` and `profile` show it.
    func reason(for shape: ConvShape) -> String? {
        lock.lock()
        defer { lock.unlock() }
        return made[shape].map { "\($0.0) (\($0.1))" }
    }

    static func timeKey(_ timed: ConvShape, _ kernel: ConvKernel) -> String { "\(timed) \(kernel) s" }

    /// The seconds `kernel` takes on `shape`, from its time at the timed shape scaled by the
    /// pixels (nil: never timed on this device, e.g. an untuned context).
    func estimatedSeconds(for shape: ConvShape, kernel: ConvKernel) -> Double? {
        let timed = shape.timed
        lock.lock()
        defer { lock.unlock() }
        guard let t = entries[Self.timeKey(timed, kernel)].flatMap(Double.init) else { return nil }
        return t * Double(shape.width * shape.height) / Double(timed.width * timed.height)
    }

    /// Times every candidate on random data (median of 3 after a warm-up).
    static func times(for shape: ConvShape, kernels k: Kernels) throws -> [(kernel: ConvKernel, seconds: Double)] {
        let ctx = k.context
        var rng = SplitMix64(seed: 7)
        let (cin, cout, h, w) = (shape.cin, shape.cout, shape.height, shape.width)
        let input = try ctx.buffer(rng.floats(cin * h * w, scale: 1)), output = try ctx.buffer(floats: cout * h * w)
        let raw = try ctx.buffer(rng.floats(cin * cout * 9, scale: 0.05))
        let laid = try ctx.buffer(rng.floats(cin * 9 * ConvLayout.paddedChannels(cout), scale: 0.05))
        let bias = try ctx.buffer(floats: cout.roundedUp(to: Kernels.convOCB)).zeroed()
        let scratch = WinogradScratch(maxTiles: k.tuning.winogradTiles)
        func run(_ kernel: ConvKernel) throws -> [Event] {
            try k.conv(kernel, shape: shape, input: input, output: output, raw: raw, laid: laid, bias: bias, scratch: scratch)
        }
        var all: [(kernel: ConvKernel, seconds: Double)] = []
        for candidate in ConvKernel.candidates(for: shape) {
            _ = try run(candidate)
            try ctx.finish()
            var times: [Double] = []
            for _ in 0..<3 {
                var events: [Event] = []
                let wall = try Autotune.wallSeconds { events = try run(candidate); try ctx.finish() }
                let device = try events.reduce(0) { $0 + (try $1.seconds()) }
                times.append(Bench.plausible(device: device, wall: wall) ? device : wall)
            }
            all.append((candidate, times.sorted()[1]))
        }
        return all
    }

    /// Merged with what other devices hold and written as the autotune writes its cache
    /// (`Autotune.store`: atomically; a cache that cannot be written only costs a re-timing).
    private func store() {
        guard let file else { return }
        var all = (try? JSONDecoder().decode([String: [String: String]].self, from: Data(contentsOf: file))) ?? [:]
        all[deviceKey, default: [:]].merge(entries) { $1 }
        Autotune.store(all, in: file)
    }
}

extension Kernels {
    /// One direction of a convolution on `kernel`: `raw` holds PyTorch's weights of the
    /// forward conv (read by Winograd, flipped for a backward shape), `laid` cl/conv3x3.cl's
    /// layout of this direction (read by the direct and small-map kernels); each kernel needs
    /// only its own. Masks and accumulation as `conv3x3`.
    package func conv(_ kernel: ConvKernel, shape: ConvShape, input: Buffer, output: Buffer, raw: Buffer?, laid: Buffer?,
                      bias: Buffer, accumulate: Bool = false, reluMask: Buffer? = nil, inputMask: Buffer? = nil,
                      scratch: WinogradScratch) throws -> [Event] {
        let (cin, cout, h, w) = (shape.cin, shape.cout, shape.height, shape.width)
        switch kernel {
        case .winograd:
            guard let raw else { preconditionFailure("winograd needs the PyTorch-layout weights") }
            return try winogradConv(input: input, weights: raw, flipped: shape.backward, bias: bias, output: output,
                                    cin: cin, cout: cout, height: h, width: w, accumulate: accumulate,
                                    reluMask: reluMask, inputMask: inputMask, scratch: scratch)
        case .direct:
            guard let laid else { preconditionFailure("the direct kernel needs its laid-out weights") }
            return [try conv3x3(input: input, weights: laid, bias: bias, output: output, cin: cin, cout: cout,
                                height: h, width: w, accumulate: accumulate, reluMask: reluMask, inputMask: inputMask)]
        case .small(let px, let py):
            guard let laid else { preconditionFailure("the small-map kernel needs its laid-out weights") }
            return [try convSmall(input: input, weights: laid, bias: bias, output: output, cin: cin, cout: cout,
                                  height: h, width: w, accumulate: accumulate, reluMask: reluMask, inputMask: inputMask,
                                  block: (px, py))]
        }
    }
}
