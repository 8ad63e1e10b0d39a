import ArgumentParser
import Foundation
import Impasto

/// What a picture is painted with: the options `stylize`, `video` and every `batch` job share
/// (a manifest line decodes into this group, with `PictureOptions` or `VideoOptions`).
/// `settings()` turns them into the library's `StylizeSettings`.
struct StylizeOptions: ParsableArguments {
    @Option(help: "The painting whose style is transferred; repeat for a blend of several.") var style: [String] = []
    @Option(help: "Blend weights of the styles, comma-separated (normalised; default equal).") var styleBlend: String?
    @Option(help: "Size of the style images relative to the output (neural-style's -style_scale).") var styleScale: Double = 1
    @Option(name: .customLong("init"), help: "Start from: content, noise, style, or an image file.") var initImage = StartOption.content
    @Option(help: "Seed for --init noise (the same seed on the same device gives the same output).") var seed: UInt64 = 0
    @Option(help: "Keep the content's colours: luminance (transfer on luminance only) or histogram (match the style's colours to the content first).")
    var preserveColors: ColorOption?
    @Option(help: "Pooling in VGG19: max or avg.") var pooling = PoolKind.max
    @Option(help: "Convolutions: auto (each layer's fastest kernel on this device, timed once and cached), or one kernel wherever it can run: winograd, direct (closest to float64; see the README's accuracy figures) or small-map (for maps of a few pixels with many channels).")
    var conv = ConvAlgorithm.auto
    @Option(help: "Storage of activations and gradients: fp32, or fp16 (half their memory, sums stay fp32; needs a device with cl_khr_fp16; see the README's accuracy figures).")
    var storage = Storage.fp32
    @Option(help: "Content layers, comma-separated names (default relu4_4: the seed's conv4_4 tap, which torchvision's in-place ReLU turns into relu4_4's output).")
    var contentLayers: String?
    @Option(help: "Style layers, comma-separated names (default relu1_1,relu2_1,relu3_1,relu4_1,conv5_1: the seed's conv taps after torchvision's in-place ReLUs; conv1_1 … name the pre-ReLU outputs).")
    var styleLayers: String?
    @Option(help: "A weight per style layer, comma-separated.") var styleLayerWeights: String?
    @Flag(help: "Divide each loss's gradient by its L1 norm (neural-style's -normalize_gradients).") var normalizeGradients = false
    @Option(help: "Style loss: gram (Gram matrices, the seed's) or w2 (the Wasserstein-2 distance between Gaussians fitted to the features: their means and covariances, crowsonkb/style-transfer-pytorch's; slower, its matrix square roots are C^3 work per layer). Under w2 an unset --style-weight is chosen by the run from the step-0 losses.")
    var styleLoss = StyleLossKind.gram
    @Option(help: "A picture (any size; resized) that is white where the style applies and black where the content stays.")
    var mask: String?
    @Option(help: "A style per region: repeat once per --style, in the same order; the Nth mask (a grey picture, any size, soft edges blend) is where the Nth style is painted, or 'none' for a default style painted wherever no mask is white. Pixels no mask covers keep only the content.")
    var styleMask: [String] = []
    @Option(help: "Output size WIDTHxHEIGHT (default 500x400, 256x192 with --demo).") var size: String?
    @Option(help: "Fit the content's aspect ratio within N pixels on its longer side, instead of --size.") var maxSize: Int?
    @Option(help: "Optimisation steps (default 500, 100 with --demo).") var iterations: Int?
    @Option(help: "adam (the seed's) or lbfgs (neural-style's: usually fewer iterations for the same loss).")
    var optimizer = StylizeSettings.OptimizerKind.adam
    @Option(help: "L-BFGS history size (neural-style's -lbfgs_num_correction).") var lbfgsHistory = 100
    @Option(help: "Learning rate (default 0.3 for Adam, 1 for L-BFGS, whose step it scales; L-BFGS does not decay it).")
    var lr: Double?
    @Option(help: "Return the exponential moving average of the iterates at each scale instead of the last one (crowsonkb/style-transfer-pytorch): auto (decay 1 - 10/iterations, the last tenth of the scale) or a decay in [0, 1), e.g. 0.98.")
    var averageIterates: String?
    @Option(help: "Multiply the learning rate by --lr-decay-gamma every N steps.") var lrDecayEvery = 200
    @Option(help: "Learning-rate decay factor.") var lrDecayGamma: Double = 0.8
    @Option(help: "Content loss weight.") var contentWeight: Float?
    @Option(help: "Style loss weight.") var styleWeight: Float?
    @Option(help: "Total-variation loss weight.") var tvWeight: Float?
    @Option(help: "VGG19 weights: a .pth or .safetensors file, or random[:SEED] (default: the official file, downloaded once).")
    var weights: String?
    @Option(help: "Coarse to fine: stylize at N sizes, each twice the last, ending at the output size; each scale starts from the previous result upsampled, with Adam's state carried over.")
    var scales = 1
    @Option(help: "Coarse to fine at these longer-side sizes, comma-separated and increasing (e.g. 512,1024,2048); the output size is the last scale.")
    var scaleSizes: String?
    @Option(help: "Iterations at each scale, comma-separated (default with several scales: --iterations at each if given, else 500 at the first and half as many at each next, at least 50).")
    var scaleIterations: String?
    @Option(help: "Device memory to use at most (e.g. 2G, 512M; default 90% of a GPU's, 3G on a CPU). Larger images are stylized in tiles with the same result.")
    var maxMemory: String?
    @Option(help: "JPEG quality, 1-100.") var quality = 95
    @Option(help: "Refuse input images with more pixels than this.") var maxPixels = ImageFile.defaultMaxPixels
    @Flag(help: "No progress display.") var quiet = false

    /// The library's settings from these options (numbers and names checked).
    func settings(demo: Bool = false) throws -> StylizeSettings {
        var s = StylizeSettings()
        s.demo = demo
        s.size = try size.map { try StylizeSettings.Size(parsing: $0) }
        s.maxSize = maxSize
        s.iterations = iterations
        (s.scales, s.scaleSizes) = (scales, try scaleSizes.map { try wholeNumbers($0, "scaleSizes") })
        s.scaleIterations = try scaleIterations.map { try wholeNumbers($0, "scaleIterations") }
        (s.styleBlend, s.styleScale) = (try styleBlend.map { try numbers($0, "styleBlend") }, styleScale)
        switch initImage {
        case .content: s.start = .content
        case .noise: s.start = .noise
        case .style: s.start = .style
        case .file: s.start = .picture
        }
        s.seed = seed
        s.colors = preserveColors?.colors ?? .style
        (s.pooling, s.convolution, s.storage, s.normalizeGradients) = (pooling, conv, storage, normalizeGradients)
        s.styleLoss = styleLoss == .gram ? nil : styleLoss
        s.contentLayers = contentLayers.map(names)
        s.styleLayers = styleLayers.map(names)
        s.styleLayerWeights = try styleLayerWeights.map { try numbers($0, "styleLayerWeights") }
        (s.optimizer, s.lbfgsHistory, s.lr, s.lrDecayEvery, s.lrDecayGamma) = (optimizer, lbfgsHistory, lr, lrDecayEvery, lrDecayGamma)
        s.averageIterates = try averageIterates.map { try IterateAveraging(parsing: $0) }
        (s.contentWeight, s.styleWeight, s.tvWeight) = (contentWeight, styleWeight, tvWeight)
        s.maxMemory = try maxMemory.map(StylizeSettings.memory(parsing:))
        if let text = maxMemory, let bytes = s.maxMemory, bytes < StylizeSettings.minimumMemory {  // as the user wrote it
            throw SettingError("maxMemory", "\(text) is below 16M, too little for any model (tiles need at least a few MiB each)")
        }
        return s
    }

    /// A picture job with these options (the content and output are the caller's).
    func job(content: String?, output: PictureOutput, demo: Bool = false) throws -> StylizeJob {
        var job = StylizeJob(content: content, styles: style, settings: try settings(demo: demo),
                             weights: try weights.map { try WeightsSpec(parsing: $0) } ?? .official, output: output)
        if case .file(let path) = initImage { job.initPicture = path }
        job.mask = mask
        if !styleMask.isEmpty { job.styleMasks = styleMask.map { $0 == "none" ? nil : $0 } }
        job.maxPixels = maxPixels
        return job
    }

    private func names(_ text: String) -> [String] { text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }

    private func numbers(_ text: String, _ field: String) throws -> [Float] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map {
            guard let v = Float($0.trimmingCharacters(in: .whitespaces)), v.isFinite, v >= 0 else {
                throw SettingError(field, "has '\($0)', not a number 0 or more")
            }
            return v
        }
    }

    private func wholeNumbers(_ text: String, _ field: String) throws -> [Int] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map {
            guard let v = Int($0.trimmingCharacters(in: .whitespaces)), v >= 0 else {
                throw SettingError(field, "has '\($0)', not a whole number 0 or more")
            }
            return v
        }
    }
}

/// A picture job's own files: `stylize`'s, and a batch picture job's.
struct PictureOptions: ParsableArguments {
    @Option(help: "The photo whose layout is kept.") var content: String?
    @Option(help: "Where to write the result (.png, .jpg or .jpeg).") var output: String
    @Flag(help: "Use built-in sample pictures (and random weights when the real ones cannot be had).") var demo = false
    @Option(help: "Write one JSON line per iteration here.") var log: String?
    @Option(help: "Keep a picture here of snapshots side by side with the loss curves under them, updated as the run goes.")
    var progressImage: String?
    @Option(help: "Also write the image every N iterations (OUTPUT-NNNN.png).") var saveEvery: Int?
    @Option(help: "Keep the run's state here (default OUTPUT.checkpoint with --checkpoint-every) when it is stopped (Ctrl-C, SIGTERM) or every --checkpoint-every iterations; a run with the same inputs and options resumes from it and ends with the same bytes as one that never stopped.")
    var checkpoint: String?
    @Option(help: "Write the checkpoint every N iterations.") var checkpointEvery: Int?
    @Option(help: "Bits per channel of a PNG output and its snapshots: 8, or 16 for prints and further editing.") var outputDepth = 8

    func job(_ options: StylizeOptions) throws -> StylizeJob {
        var out = PictureOutput(path: output)
        (out.quality, out.saveEvery, out.progressImage, out.log) = (options.quality, saveEvery, progressImage, log)
        (out.checkpoint, out.checkpointEvery, out.depth) = (checkpoint, checkpointEvery, outputDepth)
        return try options.job(content: content, output: out, demo: demo)
    }
}

/// The command line's name of a library field: its option (`styleWeight` → `--style-weight`,
/// as the parser names a property), or the few that differ.
let optionNames = FieldNames { field in
    let renamed = ["styles": "--style", "depth": "--output-depth", "styleMasks": "--style-mask", "initPicture": "--init", "start": "--init", "convolution": "--conv",
                   "colors": "--preserve-colors", "sizes": "--size", "outputWorkFolder": "--output's work folder",
                   "temporal": "the temporal target"]
    if let name = renamed[field] { return name }
    var kebab = "--"
    for c in field {
        if c.isUppercase { kebab += "-" + c.lowercased() } else { kebab.append(c) }
    }
    return kebab
}

/// A library error as the command line says it: a `SettingError`'s field as its option.
func described(_ error: Error) -> String {
    if let e = error as? SettingError { return e.described(naming: optionNames.name) }
    return ErrorText.describe(error)
}

/// Checks a job before any file is read, as a usage error (exit 64).
func validateAsUsage(_ check: () throws -> Void) throws {
    do { try check() } catch let e as SettingError { throw ValidationError(described(e)) }
}
