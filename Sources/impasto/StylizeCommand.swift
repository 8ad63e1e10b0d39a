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
