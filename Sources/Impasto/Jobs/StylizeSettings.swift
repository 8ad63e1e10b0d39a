import Foundation

/// What a picture job paints and how, apart from its files: size and schedule, losses, the
/// start, colours, the optimiser. nil means the default the field's comment gives. The
/// command line's `stylize` options, a batch manifest's lines and a video's frames all become
/// one of these; `request(content:…)` turns it into a `StylizeRequest` once the pictures are
/// read, and `resolved()` is what a job's key hashes (defaults spelled out, so the same work
/// has the same key however it was asked for).
public struct StylizeSettings: Hashable, Codable, Sendable {
    /// WIDTHxHEIGHT.
    public struct Size: Hashable, Codable, Sendable, CustomStringConvertible {
        public var width, height: Int
        public init(width: Int, height: Int) { (self.width, self.height) = (width, height) }
        /// "500x400", width first.
        public init(parsing text: String, field: String = "size") throws {
            let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
            guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0 else {
                throw SettingError(field, "'\(text)' is not WIDTHxHEIGHT with positive whole numbers, e.g. 500x400")
            }
            guard w <= 65536, h <= 65536 else { throw SettingError(field, "'\(text)' is larger than 65536 on a side") }
            (width, height) = (w, h)
        }
        public var description: String { "\(width)x\(height)" }
    }

    /// Where the optimisation starts; `.picture`'s file is the job's `initPicture`.
    public enum Start: String, Hashable, Codable, Sendable { case content, noise, style, picture }
    public enum OptimizerKind: String, Hashable, Codable, Sendable, CaseIterable { case adam, lbfgs }

    /// The output size (default 500x400, 256x192 for the demo), or `maxSize`: the content's
    /// aspect ratio within this many pixels on its longer side.
    public var size: Size?
    public var maxSize: Int?
    /// Iterations at each scale (default: 500 at the first scale, 100 for the demo, and half as
    /// many at each finer one, at least 50); `scaleIterations` gives each scale's count.
    public var iterations: Int?
    /// Coarse to fine: this many sizes, each twice the last; or these longer sides (increasing;
    /// the output size comes last).
    public var scales = 1
    public var scaleSizes: [Int]?
    public var scaleIterations: [Int]?
    /// Blend weights of the styles (normalised; default equal), and their size relative to
    /// the output (neural-style's -style_scale).
    public var styleBlend: [Float]?
    public var styleScale = 1.0
    public var start = Start.content
    /// The seed of `start == .noise`.
    public var seed: UInt64 = 0
    public var colors = StylizeRequest.Colors.style
    public var pooling = PoolKind.max
    public var convolution = ConvAlgorithm.auto
    public var storage = Storage.fp32
    /// Layer names (`VGG19.index(of:)`); default relu4_4 and relu1_1, relu2_1, relu3_1,
    /// relu4_1, conv5_1.
    public var contentLayers: [String]?
    public var styleLayers: [String]?
    /// A factor per style layer (default 1 each).
    public var styleLayerWeights: [Float]?
    public var normalizeGradients = false
    /// How style statistics are compared (nil: Gram matrices, the seed's; see `StyleLossKind`).
    public var styleLoss: StyleLossKind?
    public var optimizer = OptimizerKind.adam
    public var lbfgsHistory = 100
    /// Default 0.3 for Adam, 1 for L-BFGS (whose step it scales; it does not decay it).
    public var lr: Double?
    /// The result is the moving average of the iterates (nil: the last iterate).
    public var averageIterates: IterateAveraging?
    public var lrDecayEvery = 200
    public var lrDecayGamma = 0.8
    /// Loss weights; nil: the seed's (1, 1e4, 10), except that with random weights an unset
    /// content or style weight is balanced by the run, and so is an unset style weight under
    /// the W2 style loss (the seed's 1e4 is a Gram loss's weight).
    public var contentWeight: Float?
    public var styleWeight: Float?
    public var tvWeight: Float?
    /// Device memory to use at most, in bytes (default `Objectives.defaultLimit`); larger
    /// pictures run in tiles with the same result.
    public var maxMemory: Int?
    /// The demo's smaller defaults (256x192, 100 iterations) and its own sample pictures.
    public var demo = false

    public init() {}

    /// "2G", "512M", "1.5GiB", "300000000" → bytes (K/M/G/T are powers of 1024).
    public static func memory(parsing s: String) throws -> Int {
        let t = s.trimmingCharacters(in: .whitespaces).uppercased()
        let k = 1024.0
        let units: [(String, Double)] = [("TIB", k * k * k * k), ("GIB", k * k * k), ("MIB", k * k), ("KIB", k),
                                         ("TB", k * k * k * k), ("GB", k * k * k), ("MB", k * k), ("KB", k),
                                         ("T", k * k * k * k), ("G", k * k * k), ("M", k * k), ("K", k), ("B", 1)]
        let (number, factor) = units.first { t.hasSuffix($0.0) }.map { (String(t.dropLast($0.0.count)), $0.1) } ?? (t, 1)
        guard let v = Double(number.trimmingCharacters(in: .whitespaces)), v.isFinite, v > 0, v * factor < 1e18 else {
            throw SettingError("maxMemory", "'\(s)' is not a memory size such as 2G, 512M or 1500000000")
        }
        return Int(v * factor)
    }

    /// The least device memory a run may be given (tiles need at least a few MiB each).
    public static let minimumMemory = 16 << 20

    /// Most scales a run may have.
    public static let maxScales = 8

    /// Every check of the settings alone (no file, no device), for a job with `styleCount`
    /// style pictures; the request's own checks follow in `StylizeRequest.validate`.
    public func validate(styleCount: Int) throws {
        if size != nil && maxSize != nil { throw SettingError("maxSize", "cannot go with size: give one, not both") }
        if let size { _ = try Self.checked(size) }
        if let m = maxSize, m < VGG19.minimumSide || m > 65536 {
            throw SettingError("maxSize", "must be between \(VGG19.minimumSide) and 65536")
        }
        guard (1...Self.maxScales).contains(scales) else { throw SettingError("scales", "must be between 1 and \(Self.maxScales)") }
        if scaleSizes != nil && scales != 1 { throw SettingError("scaleSizes", "cannot go with scales: give one, not both") }
        if let iterations, !(0...StylizeRequest.maxIterations).contains(iterations) {
            throw SettingError("iterations", "must be between 0 and \(StylizeRequest.maxIterations)")
        }
        if let blend = styleBlend, blend.count != styleCount {
            throw SettingError("styleBlend", "has \(blend.count) weights for \(styleCount) style images")
        }
        if let m = maxMemory, m < Self.minimumMemory {
            throw SettingError("maxMemory", "is below 16M, too little for any model (tiles need at least a few MiB each)")
        }
        for (name, v) in [("contentWeight", contentWeight), ("styleWeight", styleWeight), ("tvWeight", tvWeight)] {
            if let v, !(v.isFinite && v >= 0) { throw SettingError(name, "must be a finite number, 0 or more") }
        }
        _ = try lossConfig()
        _ = try iterationSchedule(scales: try scaleCount())
    }

    /// The network the losses are measured through, layer names checked.
    public func lossConfig() throws -> LossConfig {
        var c = LossConfig()
        func layers(_ names: [String], _ field: String) throws -> [Int] {
            guard !names.isEmpty else { throw SettingError(field, "needs at least one layer name") }
            let indices = try names.map { name in
                do { return try VGG19.index(of: name) } catch { throw SettingError(field, "\(ErrorText.describe(error))") }
            }
            guard Set(indices).count == indices.count else { throw SettingError(field, "names a layer twice") }
            return indices
        }
        if let names = styleLayers { c.styleLayers = try layers(names, "styleLayers") }
        if let names = contentLayers { c.contentLayers = try layers(names, "contentLayers") }
        if let ws = styleLayerWeights {
            guard ws.count == c.styleLayers.count else {
                throw SettingError("styleLayerWeights", "has \(ws.count) values for \(c.styleLayers.count) style layers")
            }
            guard ws.allSatisfy({ $0.isFinite && $0 >= 0 }) else { throw SettingError("styleLayerWeights", "must be numbers 0 or more") }
            c.styleLayerWeights = ws
        }
        (c.pooling, c.convolution, c.storage) = (pooling, convolution, storage)
        c.normalizeGradients = normalizeGradients
        c.styleLoss = styleLoss ?? .gram
        return c
    }

    // MARK: the schedule

    /// The output size for this content picture.
    public func outputSize(for content: RGBImage) throws -> Size {
        if let m = maxSize {
            let f = content.fittedSize(maxSide: m)
            return try Self.checked(Size(width: f.width, height: f.height))
        }
        return try Self.checked(size ?? Self.defaultSize(demo: demo))
    }

    public static func defaultSize(demo: Bool) -> Size { demo ? Size(width: 256, height: 192) : Size(width: 500, height: 400) }

    /// A size VGG19 can take and the host can hold.
    static func checked(_ s: Size) throws -> Size {
        guard s.width >= VGG19.minimumSide, s.height >= VGG19.minimumSide else {
            throw SettingError("size", "\(s) is too small: VGG19's four poolings need at least \(VGG19.minimumSide)x\(VGG19.minimumSide)")
        }
        try HostMemory.check(width: s.width, height: s.height, what: "the output")  // tiles bound the device's share, not the host's
        return s
    }

    /// The longer side of the output, known before the content is read (`maxSize` is it).
    var longSide: Int { maxSize ?? size.map { max($0.width, $0.height) } ?? max(Self.defaultSize(demo: demo).width, Self.defaultSize(demo: demo).height) }

    /// How many scales the run has: `scales`, or `scaleSizes` and the output size after them.
    public func scaleCount() throws -> Int {
        guard let sides = scaleSizes else { return scales }
        try checkScaleSizes(sides)
        return sides.count + (sides.last! < longSide ? 1 : 0)
    }

    private func checkScaleSizes(_ sides: [Int]) throws {
        guard !sides.isEmpty, sides.allSatisfy({ $0 > 0 }) else { throw SettingError("scaleSizes", "must be positive whole numbers") }
        guard zip(sides, sides.dropFirst()).allSatisfy({ $0 < $1 }), sides.last! <= longSide, sides.count <= Self.maxScales else {
            throw SettingError("scaleSizes", "must increase, at most \(Self.maxScales) of them, none above the output's longer side \(longSide)")
        }
    }

    /// The sizes of a coarse-to-fine run for this output size, smallest first, the output
    /// size last: halving from the output size (`scales`), or at `scaleSizes`' longer sides.
    public func scaleSchedule(output: Size) throws -> [Size] {
        let long = max(output.width, output.height)
        var factors: [Double]
        if let sides = scaleSizes {
            try checkScaleSizes(sides)
            factors = sides.map { Double($0) / Double(long) }
            if sides.last! < long { factors.append(1) }
        } else {
            factors = (0..<scales).reversed().map { 1 / pow(2, Double($0)) }
        }
        let sizes = factors.map { f in Size(width: Int((Double(output.width) * f).rounded()), height: Int((Double(output.height) * f).rounded())) }
        guard let first = sizes.first, first.width >= VGG19.minimumSide, first.height >= VGG19.minimumSide else {
            let first = sizes.first ?? output
            throw SettingError(scaleSizes == nil ? "scales" : "scaleSizes",
                               "would make the first scale \(first), below VGG19's \(VGG19.minimumSide)x\(VGG19.minimumSide): use fewer scales or larger sizes")
        }
        return sizes
    }

    /// Iterations at each of `n` scales: `scaleIterations`, or `iterations` at each scale when
    /// given, else the default count at the first scale and half as many at each next (at
    /// least 50): each finer scale starts close to its result and costs 4× more per iteration.
    public func iterationSchedule(scales n: Int) throws -> [Int] {
        if let counts = scaleIterations {
            guard counts.allSatisfy({ (0...StylizeRequest.maxIterations).contains($0) }) else {
                throw SettingError("scaleIterations", "must be whole numbers from 0 to \(StylizeRequest.maxIterations)")
            }
            guard counts.count == n else { throw SettingError("scaleIterations", "has \(counts.count) counts for \(n) scales") }
            return counts
        }
        if let iterations { return Array(repeating: iterations, count: n) }
        let first = demo ? 100 : 500
        return (0..<n).map { $0 == 0 ? first : max(min(first, 50), first >> $0) }
    }

    // MARK: the request

    /// The request these settings give with these pictures (`initPicture` for
    /// `start == .picture`). With `randomWeights`, the content and style weights left unset are
    /// balanced by the run.
    public func request(content: RGBImage, styles: [RGBImage], initPicture: RGBImage?, mask: RGBImage?,
                        styleMasks: [RGBImage?]? = nil, randomWeights: Bool) throws -> StylizeRequest {
        try validate(styleCount: styles.count)
        let output = try outputSize(for: content)
        let sizes = try scaleSchedule(output: output)
        var r = StylizeRequest(content: content, styles: styles, sizes: sizes.map { (width: $0.width, height: $0.height) },
                               iterations: try iterationSchedule(scales: sizes.count))
        (r.styleBlend, r.styleScale, r.mask, r.styleMasks) = (styleBlend, styleScale, mask, styleMasks)
        switch start {
        case .content: r.start = .content
        case .noise: r.start = .noise(seed: seed)
        case .style: r.start = .style
        case .picture:
            guard let initPicture else { throw SettingError("initPicture", "is needed to start from a picture") }
            r.start = .picture(initPicture)
        }
        r.colors = colors
        r.loss = try lossConfig()
        let seedWeights = LossWeights.seed
        r.weights = LossWeights(content: contentWeight ?? seedWeights.content, style: styleWeight ?? seedWeights.style, tv: tvWeight ?? seedWeights.tv)
        if randomWeights && contentWeight == nil { r.balance.insert(.content) }
        if (randomWeights || r.loss.styleLoss == .w2) && styleWeight == nil { r.balance.insert(.style) }
        r.optimizer = optimizer == .lbfgs ? .lbfgs(history: lbfgsHistory) : .adam
        (r.lr, r.lrDecayEvery, r.lrDecayGamma) = (lr, lrDecayEvery, lrDecayGamma)
        r.averaging = averageIterates
        r.memoryLimit = maxMemory
        return r
    }

    /// The settings with every default that does not depend on the pictures spelled out: what
    /// a job's key hashes, so `iterations: 500` and the default are the same work.
    public func resolved() throws -> StylizeSettings {
        var r = self
        let n = try scaleCount()
        (r.scales, r.scaleIterations, r.iterations) = (n, try iterationSchedule(scales: n), nil)
        if maxSize == nil { r.size = size ?? Self.defaultSize(demo: demo) }
        let c = try lossConfig()
        r.styleLayers = c.styleLayers.map(VGG19.name(of:))
        r.contentLayers = c.contentLayers.map(VGG19.name(of:))
        r.styleLayerWeights = c.styleLayerWeights ?? Array(repeating: 1, count: c.styleLayers.count)
        r.tvWeight = tvWeight ?? LossWeights.seed.tv
        r.lr = lr ?? (optimizer == .adam ? 0.3 : 1)
        if optimizer != .lbfgs { r.lbfgsHistory = 0 }
        if optimizer != .adam { (r.lrDecayEvery, r.lrDecayGamma) = (0, 0) }
        if start != .noise { r.seed = 0 }
        if styleLoss == .gram { r.styleLoss = nil }  // the default, as older jobs' keys spell it
        return r
    }
}
