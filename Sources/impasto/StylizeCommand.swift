import ArgumentParser
import Foundation
import Impasto

struct Stylize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Paint the content image in the style of the style image (Gatys et al., the d2l.ai recipe).",
        discussion: """
        Defaults reproduce the seed: 500x400, 500 Adam iterations at lr 0.3 (x0.8 every 200), \
        loss weights 1 / 1e4 / 10, starting from the content image. Without --content and --style, \
        --demo paints the program's own sample pictures.
        """)

    @OptionGroup var deviceOptions: DeviceOptions
    @Option(help: "The photo whose layout is kept.") var content: String?
    @Option(help: "The painting whose style is transferred; repeat for a blend of several.") var style: [String] = []
    @Option(help: "Blend weights of the styles, comma-separated (normalised; default equal).") var styleBlend: String?
    @Option(help: "Size of the style images relative to the output (neural-style's -style_scale).") var styleScale: Double = 1
    @Option(name: .customLong("init"), help: "Start from: content, noise, style, or an image file.") var initImage = StartOption.content
    @Option(help: "Seed for --init noise (the same seed on the same device gives the same output).") var seed: UInt64 = 0
    @Option(help: "Keep the content's colours: luminance (transfer on luminance only) or histogram (match the style's colours to the content first).")
    var preserveColors: ColorOption?
    @Option(help: "Pooling in VGG19: max or avg.") var pooling = PoolKind.max
    @Option(help: "Convolutions: winograd (fast) or direct (slower, closest to float64; see the README's accuracy figures).")
    var conv = ConvAlgorithm.winograd
    @Option(help: "Storage of activations and gradients: fp32, or fp16 (half their memory, sums stay fp32; needs a device with cl_khr_fp16; see the README's accuracy figures).")
    var storage = Storage.fp32
    @Option(help: "Content layers, comma-separated names (default relu4_4: the seed's conv4_4 tap, which torchvision's in-place ReLU turns into relu4_4's output).")
    var contentLayers: String?
    @Option(help: "Style layers, comma-separated names (default relu1_1,relu2_1,relu3_1,relu4_1,conv5_1: the seed's conv taps after torchvision's in-place ReLUs; conv1_1 … name the pre-ReLU outputs).")
    var styleLayers: String?
    @Option(help: "A weight per style layer, comma-separated.") var styleLayerWeights: String?
    @Flag(help: "Divide each loss's gradient by its L1 norm (neural-style's -normalize_gradients).") var normalizeGradients = false
    @Option(help: "A picture (any size; resized) that is white where the style applies and black where the content stays.")
    var mask: String?
    @Option(help: "Where to write the result (.png, .jpg or .jpeg).") var output: String
    @Flag(help: "Use built-in sample pictures (and random weights when the real ones cannot be had).") var demo = false
    @Option(help: "Output size WIDTHxHEIGHT (default 500x400, 256x192 with --demo).") var size: String?
    @Option(help: "Fit the content's aspect ratio within N pixels on its longer side, instead of --size.") var maxSize: Int?
    @Option(help: "Optimisation steps (default 500, 100 with --demo).") var iterations: Int?
    @Option(help: "adam (the seed's) or lbfgs (neural-style's: usually fewer iterations for the same loss).") var optimizer = OptimizerOption.adam
    @Option(help: "L-BFGS history size (neural-style's -lbfgs_num_correction).") var lbfgsHistory = 100
    @Option(help: "Learning rate (default 0.3 for Adam, 1 for L-BFGS, whose step it scales; L-BFGS does not decay it).")
    var lr: Double?
    @Option(help: "Multiply the learning rate by --lr-decay-gamma every N steps.") var lrDecayEvery = 200
    @Option(help: "Learning-rate decay factor.") var lrDecayGamma: Double = 0.8
    @Option(help: "Content loss weight.") var contentWeight: Float?
    @Option(help: "Style loss weight.") var styleWeight: Float?
    @Option(help: "Total-variation loss weight.") var tvWeight: Float?
    @Option(help: "VGG19 weights: a .pth or .safetensors file, or random[:SEED] (default: the official file, downloaded once).")
    var weights: String?
    @Option(help: "Write one JSON line per iteration here.") var log: String?
    @Option(help: "Coarse to fine: stylize at N sizes, each twice the last, ending at the output size; each scale starts from the previous result upsampled, with Adam's state carried over.")
    var scales = 1
    @Option(help: "Coarse to fine at these longer-side sizes, comma-separated and increasing (e.g. 512,1024,2048); the output size is the last scale.")
    var scaleSizes: String?
    @Option(help: "Iterations at each scale, comma-separated (default with several scales: --iterations at each if given, else 500 at the first and half as many at each next, at least 50).")
    var scaleIterations: String?
    @Option(help: "Device memory to use at most (e.g. 2G, 512M; default 90% of a GPU's, 3G on a CPU). Larger images are stylized in tiles with the same result.")
    var maxMemory: String?
    @Option(help: "Keep a picture here of snapshots side by side with the loss curves under them, updated as the run goes.")
    var progressImage: String?
    @Option(help: "Also write the image every N iterations (OUTPUT-NNNN.png).") var saveEvery: Int?
    @Option(help: "JPEG quality, 1-100.") var quality = 95
    @Option(help: "Refuse input images with more pixels than this.") var maxPixels = ImageFile.defaultMaxPixels
    @Flag(help: "No progress display.") var quiet = false

    /// Iterations per scale at most (8 scales of them still add up without overflow).
    static let maxIterations = 100_000_000

    /// Every check of the options alone (no file read, no device): a usage error, exit 64.
    func validate() throws {
        try checkNumbers()
        if demo && (content != nil || !style.isEmpty) { throw ValidationError("--demo paints its own pictures: leave out --content and --style") }
        if !demo && (content == nil || style.isEmpty) {
            throw ValidationError("give --content and --style (or --demo for built-in sample pictures)")
        }
        _ = try lossConfig()
        _ = try blendWeights()
        guard styleScale.isFinite, styleScale > 0, styleScale <= 16 else { throw ValidationError("--style-scale must be a number between 0 and 16") }
        guard (1...8).contains(scales) else { throw ValidationError("--scales must be between 1 and 8") }
        if scaleSizes != nil && scales != 1 { throw ValidationError("give --scales or --scale-sizes, not both") }
        _ = try ImageFile.format(of: output)
    }

    func run() throws {
        guarded { try stylize() }
    }

    /// The checks that need no input file read and no device: option values, the output's
    /// format and folder, and that no output would overwrite an input. Returns the loss
    /// configuration, the style blend and the --init picture's path (nil for content, noise or
    /// style).
    func checkOptions() throws -> (LossConfig, [Float]?, String?, OutputGuard) {
        let initPath: String?
        if case .file(let path) = initImage { initPath = path } else { initPath = nil }
        // Every file written is checked against every input, by identity, before any work.
        var outputs = OutputGuard()
        for (path, option) in [(content, "--content"), (initPath, "--init"), (mask, "--mask")] + style.map({ ($0, "--style") }) {
            if let path { try outputs.protect(path, as: option) }
        }
        if let weights, weights != "random", !weights.hasPrefix("random:") { try outputs.protect(weights, as: "--weights") }
        try outputs.checkReplaceable(output, option: "--output")
        if let saveEvery, saveEvery > 0 { try outputs.checkReplaceable(numbered(output, saveEvery), option: "--save-every") }
        if let progressImage {
            _ = try ImageFile.format(of: progressImage)
            try outputs.checkReplaceable(progressImage, option: "--progress-image")
            if samePath(progressImage, output) { throw ValidationError("--progress-image and --output are the same file") }
        }
        if let log {
            try outputs.checkLog(log, option: "--log")
            for other in [output, progressImage].compactMap({ $0 }) where samePath(log, other) {
                throw ValidationError("--log and \(other == output ? "--output" : "--progress-image") are the same file")
            }
        }
        return (try lossConfig(), try blendWeights(), initPath, outputs)
    }

    func stylize() throws {
        // 1. Everything that can be checked cheaply, before any work or any file is written.
        let (config, blend, initPath, outputs) = try checkOptions()
        let progress = ProgressDisplay(total: 0, quiet: quiet)
        Interrupt.install()

        // 2. Inputs, and the request.
        let contentImage = try content.map { try ImageFile.read($0, maxPixels: maxPixels) } ?? SampleImages.landscape()
        var styleImages = try style.map { try ImageFile.read($0, maxPixels: maxPixels) }
        if demo { styleImages = [SampleImages.swirls()] }
        let initPicture = try initPath.map { try ImageFile.read($0, maxPixels: maxPixels) }
        let maskPicture = try mask.map { try ImageFile.read($0, maxPixels: maxPixels) }
        let (w, h) = try outputSize(for: contentImage)
        let sizes = try scaleSchedule(w, h)
        var request = StylizeRequest(content: contentImage, styles: styleImages, sizes: sizes.map { (width: $0.0, height: $0.1) },
                                     iterations: try iterationSchedule(scales: sizes.count))
        request.styleBlend = blend
        request.styleScale = styleScale
        request.mask = maskPicture
        switch initImage {
        case .content: request.start = .content
        case .noise: request.start = .noise(seed: seed)
        case .style: request.start = .style
        case .file: request.start = .picture(initPicture!)
        }
        request.colors = preserveColors?.colors ?? .style
        request.loss = config
        (request.contentWeight, request.styleWeight, request.tvWeight) = (contentWeight, styleWeight, tvWeight ?? 10)
        request.optimizer = optimizer == .lbfgs ? .lbfgs(history: lbfgsHistory) : .adam
        (request.lr, request.lrDecayEvery, request.lrDecayGamma) = (lr, lrDecayEvery, lrDecayGamma)
        try request.validate()

        let context = try tunedContext(deviceOptions.selector, quiet: quiet)
        try config.check(on: context.device)
        request.memoryLimit = try deviceMemoryLimit(context.device)
        let (vgg, randomWeights) = try resolveWeights(progress)
        request.balanceWeights = randomWeights
        let weightsOrigin = vgg.origin
        let run = Stylization(context: context, weights: vgg, releaseWeights: true)

        // 3. The observers: progress, log, progress sheet, numbered snapshots.
        let total = request.totalIterations
        let progressObserver = ProgressObserver(ProgressDisplay(total: total, quiet: quiet))
        var observers: [StylizeObserver] = []
        if let log { observers.append(LogObserver(try outputs.openLog(log, option: "--log"), multiScale: sizes.count > 1)) }  // after the inputs: no empty log when one is bad
        observers.append(progressObserver)
        if let progressImage { observers.append(SheetObserver(path: progressImage, width: w, height: h, total: total, quality: quality)) }
        if let saveEvery { observers.append(SaveEveryObserver(output: output, every: saveEvery, total: total, quality: quality, outputs: outputs)) }
        let scaleText = sizes.count > 1 ? " in \(sizes.count) scales (" + sizes.map { "\($0.0)x\($0.1)" }.joined(separator: ", ") + ")" : ""
        progress.message("stylizing \(w)x\(h)\(scaleText) on \(context.device.name), \(total) iterations, weights \(weightsOrigin)")

        // 4. The run, and the output.
        let result = try run.run(request, observers: observers, shouldStop: { Interrupt.requested != 0 })
        try ImageFile.write(result.picture, to: output, quality: quality)
        let display = progressObserver.display
        if result.interrupted {
            display.message("interrupted after \(result.iterations) iterations: wrote \(output)")
            Foundation.exit(Interrupt.exitStatus)
        }
        display.message(String(format: "wrote %@ (%.2f s per iteration, %.1f s of set-up: models, targets%@)", output,
                               total > 0 ? result.iterating / Double(total) : 0, result.setUp, randomWeights ? ", loss balancing" : ""))
        if randomWeights {
            display.message("note: this used random VGG19 weights, a demo only; for real results let impasto download the official weights (network needed once) or pass --weights vgg19-dcbb9e9d.pth")
        }
    }

    /// The sizes of a coarse-to-fine run, smallest first, the output size last: halving from
    /// the output size (--scales), or at the given longer sides (--scale-sizes).
    func scaleSchedule(_ w: Int, _ h: Int) throws -> [(Int, Int)] {
        let long = max(w, h)
        var factors: [Double]
        if let list = scaleSizes {
            let sides = try list.split(separator: ",", omittingEmptySubsequences: false).map { part -> Int in
                guard let v = Int(part.trimmingCharacters(in: .whitespaces)), v > 0 else {
                    throw ValidationError("--scale-sizes: '\(part)' is not a positive whole number")
                }
                return v
            }
            guard zip(sides, sides.dropFirst()).allSatisfy({ $0 < $1 }), sides.last! <= long, sides.count <= 8 else {
                throw ValidationError("--scale-sizes must increase, at most 8 of them, none above the output's longer side \(long)")
            }
            factors = sides.map { Double($0) / Double(long) }
            if sides.last! < long { factors.append(1) }
        } else {
            factors = (0..<scales).reversed().map { 1 / pow(2, Double($0)) }
        }
        let sizes = factors.map { f in (Int((Double(w) * f).rounded()), Int((Double(h) * f).rounded())) }
        guard sizes[0].0 >= VGG19.minimumSide, sizes[0].1 >= VGG19.minimumSide else {
            throw ValidationError("the first scale would be \(sizes[0].0)x\(sizes[0].1), below VGG19's \(VGG19.minimumSide)x\(VGG19.minimumSide): use fewer --scales or larger --scale-sizes")
        }
        return sizes
    }

    /// Iterations at each scale: --scale-iterations, or --iterations at each scale when given,
    /// else the default count at the first scale and half as many at each next (at least 50):
    /// each finer scale starts close to its result and costs 4× more per iteration.
    func iterationSchedule(scales n: Int) throws -> [Int] {
        if let list = scaleIterations {
            let counts = try list.split(separator: ",", omittingEmptySubsequences: false).map { part -> Int in
                guard let v = Int(part.trimmingCharacters(in: .whitespaces)), (0...Self.maxIterations).contains(v) else {
                    throw ValidationError("--scale-iterations: '\(part)' is not a whole number from 0 to \(Self.maxIterations)")
                }
                return v
            }
            guard counts.count == n else { throw ValidationError("--scale-iterations has \(counts.count) counts for \(n) scales") }
            return counts
        }
        if let iterations { return Array(repeating: iterations, count: n) }
        let first = demo ? 100 : 500
        return (0..<n).map { $0 == 0 ? first : max(min(first, 50), first >> $0) }
    }

    /// --max-memory, or the default for the device (`Stylizers.defaultLimit`); never more than the device has.
    func deviceMemoryLimit(_ device: Device) throws -> Int {
        guard let text = maxMemory else { return Stylizers.defaultLimit(device) }
        return min(try parseBytes(text), Int(device.globalMemBytes))
    }

    func checkNumbers() throws {
        if let iterations, !(0...Self.maxIterations).contains(iterations) {
            throw ValidationError("--iterations must be between 0 and \(Self.maxIterations), got \(iterations)")
        }
        if let saveEvery, saveEvery < 1 { throw ValidationError("--save-every must be at least 1") }
        if let lr { guard lr.isFinite, lr > 0 else { throw ValidationError("--lr must be a positive number") } }
        guard (1...1000).contains(lbfgsHistory) else { throw ValidationError("--lbfgs-history must be between 1 and 1000") }
        guard lrDecayEvery >= 1 else { throw ValidationError("--lr-decay-every must be at least 1") }
        guard lrDecayGamma.isFinite, lrDecayGamma > 0 else { throw ValidationError("--lr-decay-gamma must be a positive number") }
        for (name, v) in [("--content-weight", contentWeight), ("--style-weight", styleWeight), ("--tv-weight", tvWeight)] {
            if let v, !(v.isFinite && v >= 0) { throw ValidationError("\(name) must be a finite number, 0 or more") }
        }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be between 1 and 100") }
        if let saveEvery, saveEvery < 1 { throw ValidationError("--save-every must be at least 1") }
        guard maxPixels > 0 else { throw ValidationError("--max-pixels must be positive") }
        if let m = maxMemory, try parseBytes(m) < 16 << 20 {
            throw ValidationError("--max-memory \(m) is below 16M, too little for any model (tiles need at least a few MiB each)")
        }
        if size != nil && maxSize != nil { throw ValidationError("give --size or --max-size, not both") }
        if let s = size { _ = try checkedSize(try parseSize(s)) }
        if let m = maxSize, m < VGG19.minimumSide || m > 65536 {
            throw ValidationError("--max-size must be between \(VGG19.minimumSide) and 65536")
        }
    }

    /// Layers and pooling from the options, names checked.
    func lossConfig() throws -> LossConfig {
        var c = LossConfig()
        func layers(_ text: String, _ option: String) throws -> [Int] {
            let names = text.split(separator: ",").map(String.init)
            guard !names.isEmpty else { throw ValidationError("\(option) needs at least one layer name") }
            let indices = try names.map(VGG19.index(of:))
            guard Set(indices).count == indices.count else { throw ValidationError("\(option) names a layer twice") }
            return indices
        }
        if let t = styleLayers { c.styleLayers = try layers(t, "--style-layers") }
        if let t = contentLayers { c.contentLayers = try layers(t, "--content-layers") }
        if let t = styleLayerWeights {
            let ws = try numbers(t, "--style-layer-weights")
            guard ws.count == c.styleLayers.count else {
                throw ValidationError("--style-layer-weights has \(ws.count) values for \(c.styleLayers.count) style layers")
            }
            c.styleLayerWeights = ws
        }
        (c.pooling, c.convolution, c.storage) = (pooling, conv, storage)
        c.normalizeGradients = normalizeGradients
        return c
    }

    func blendWeights() throws -> [Float]? {
        guard let t = styleBlend else { return nil }
        let ws = try numbers(t, "--style-blend")
        let count = demo ? 1 : style.count
        guard ws.count == count else { throw ValidationError("--style-blend has \(ws.count) weights for \(count) style images") }
        guard ws.contains(where: { $0 > 0 }) else { throw ValidationError("--style-blend weights cannot all be 0") }
        return ws
    }

    func numbers(_ text: String, _ option: String) throws -> [Float] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map {
            guard let v = Float($0.trimmingCharacters(in: .whitespaces)), v.isFinite, v >= 0 else {
                throw ValidationError("\(option): '\($0)' is not a number 0 or more")
            }
            return v
        }
    }

    func checkedSize(_ s: (Int, Int)) throws -> (Int, Int) {
        guard s.0 >= VGG19.minimumSide, s.1 >= VGG19.minimumSide else {
            throw ValidationError("size \(s.0)x\(s.1) is too small: VGG19's four poolings need at least \(VGG19.minimumSide)x\(VGG19.minimumSide)")
        }
        try HostMemory.check(width: s.0, height: s.1, what: "the output")  // tiles bound the device's share, not the host's
        return s
    }

    func outputSize(for picture: RGBImage) throws -> (Int, Int) {
        if let m = maxSize {
            let f = picture.fittedSize(maxSide: m)
            return try checkedSize((f.width, f.height))
        }
        return try checkedSize(try parseSize(size ?? (demo ? "256x192" : "500x400")))
    }

    /// The weights and whether they are random. A demo falls back to random weights when the
    /// official file cannot be had; a real run does not.
    func resolveWeights(_ progress: ProgressDisplay) throws -> (VGGWeights, Bool) {
        if let spec = weights {
            let w = try loadWeights(spec)
            return (w, spec == "random" || spec.hasPrefix("random:"))
        }
        do {
            let url = try WeightsDownload.cachedWeights(progress: downloadProgress)
            return (try WeightsFile.load(url), false)
        } catch {
            guard demo else { throw error }
            progress.message("impasto: \(error)")
            progress.message("demo: using random VGG19 weights instead (results are only a rough imitation of the style)")
            return (try VGGWeights.random(seed: 1), true)
        }
    }

    var downloadProgress: (Int64, Int64?) -> Void {
        let quiet = self.quiet
        let start = Date()
        var lastDraw = Date.distantPast
        return { got, total in
            guard !quiet, Date().timeIntervalSince(lastDraw) > 0.2 || got == total else { return }
            lastDraw = Date()
            let mb = Double(got) / 1e6
            let speed = mb / max(Date().timeIntervalSince(start), 1e-3)
            let text: String
            if let total {
                let pct = Double(got) / Double(total) * 100
                let bar = String(repeating: "#", count: Int(pct / 4)) + String(repeating: ".", count: 25 - Int(pct / 4))
                text = String(format: "downloading VGG19 weights [%@] %3.0f%% %.0f/%.0f MB %.1f MB/s", bar, pct, mb, Double(total) / 1e6, speed)
            } else {
                text = String(format: "downloading VGG19 weights %.0f MB %.1f MB/s", mb, speed)
            }
            writeStderr((isatty(STDERR_FILENO) != 0 ? "\r\u{1B}[K" + text : text + "\n"))
            if got == total && isatty(STDERR_FILENO) != 0 { writeStderr("\n") }
        }
    }
}

/// True when two paths name the same file (or would: same absolute path).
func samePath(_ a: String, _ b: String) -> Bool {
    let ua = URL(fileURLWithPath: a).standardizedFileURL.resolvingSymlinksInPath()
    let ub = URL(fileURLWithPath: b).standardizedFileURL.resolvingSymlinksInPath()
    if ua.path == ub.path { return true }
    var sa = stat(), sb = stat()
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
}

/// "out.png", 100 → "out-0100.png".
func numbered(_ path: String, _ i: Int) -> String {
    let url = URL(fileURLWithPath: path)
    let stem = url.deletingPathExtension().lastPathComponent
    return url.deletingLastPathComponent().appendingPathComponent(String(format: "%@-%04d.%@", stem, i, url.pathExtension)).path
}
