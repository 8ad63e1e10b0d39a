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
    @Option(help: "Keep the run's state here (default OUTPUT.checkpoint with --checkpoint-every) when it is stopped (Ctrl-C, SIGTERM) or every --checkpoint-every iterations; a run with the same inputs and options resumes from it and ends with the same bytes as one that never stopped.")
    var checkpoint: String?
    @Option(help: "Write the checkpoint every N iterations.") var checkpointEvery: Int?
    @Option(help: "JPEG quality, 1-100.") var quality = 95
    @Option(help: "Refuse input images with more pixels than this.") var maxPixels = ImageFile.defaultMaxPixels
    @Flag(help: "No progress display.") var quiet = false

    /// Every check of the options alone (no file read, no device): a usage error, exit 64.
    /// The run's own checks (`StylizeRequest.validate`) apply to a request with stand-in pictures.
    func validate() throws {
        try checkCommandOptions()
        let stand = RGBImage(width: 1, height: 1, pixels: [0, 0, 0])
        let probe = try request(content: stand, styles: Array(repeating: stand, count: demo ? 1 : style.count), initPicture: stand,
                                mask: nil, sizes: [(VGG19.minimumSide, VGG19.minimumSide)], iterations: [iterations ?? 0])
        do { try probe.validate() } catch let e as StyleTransferError { throw ValidationError(e.description) }
    }

    func run() throws {
        guarded { try stylize() }
    }

    func stylize() throws {
        let outputs = try guardFiles()  // before any work or any file is written
        let progress = ProgressDisplay(total: 0, quiet: quiet)
        Interrupt.install()
        let request = try prepare()  // inputs read and checked before the device and the weights
        let context = try tunedContext(deviceOptions.selector, quiet: quiet)
        try request.loss.check(on: context.device)  // now, not after a weights download
        let (vgg, randomWeights) = try resolveWeights(progress)
        let run = Stylization(context: context, weights: vgg, releaseWeights: true)
        let checkpoint = try checkpointPath.map { ($0, try runKey(arguments: Array(CommandLine.arguments.dropFirst(2)))) }
        let (result, display) = try perform(request, on: run, randomWeights: randomWeights, outputs: outputs, checkpoint: checkpoint)
        if result.interrupted {
            display.message("interrupted after \(result.iterations) iterations: wrote \(output)")
            Foundation.exit(Interrupt.exitStatus)
        }
        display.message(String(format: "wrote %@ (%.2f s per iteration, %.1f s of set-up: models, targets%@)", output,
                               result.iterations > 0 ? result.iterating / Double(result.iterations) : 0, result.setUp,
                               randomWeights ? ", loss balancing" : ""))
        if randomWeights {
            display.message("note: this used random VGG19 weights, a demo only; for real results let impasto download the official weights (network needed once) or pass --weights vgg19-dcbb9e9d.pth")
        }
    }

    /// The run these options ask for: the inputs read, the output size and the schedule.
    func prepare() throws -> StylizeRequest {
        func read(_ path: String) throws -> RGBImage { try ImageFile.read(path, maxPixels: maxPixels) }
        let contentImage = try content.map(read) ?? SampleImages.landscape()
        let styleImages = demo ? [SampleImages.swirls()] : try style.map(read)
        var initPicture: RGBImage?
        if case .file(let path) = initImage { initPicture = try read(path) }
        let (w, h) = try outputSize(for: contentImage)
        let sizes = try scaleSchedule(w, h)
        return try request(content: contentImage, styles: styleImages, initPicture: initPicture, mask: try mask.map(read),
                           sizes: sizes, iterations: try iterationSchedule(scales: sizes.count))
    }

    /// `request` (from `prepare`) run on `run`'s device and weights, with the observers these
    /// options ask for, and the output written (`impasto batch` calls it once per job, and
    /// writes no picture of an interrupted job: its rerun does the job).
    /// With `checkpoint`, the run resumes from the file at its path if there is one (tagged with
    /// its key, see `runKey`), keeps it up to date, and removes it when done.
    func perform(_ request: StylizeRequest, on run: Stylization, randomWeights: Bool, outputs: OutputGuard,
                 checkpoint: (path: String, key: String)?, writeInterrupted: Bool = true,
                 extraObservers: [StylizeObserver] = []) throws -> (StylizeResult, ProgressDisplay) {
        var request = request
        let device = run.context.device, (w, h) = request.outputSize, sizes = request.sizes
        PendingFile.removeStale(besides: [output] + (progressImage.map { [$0] } ?? []))
        request.memoryLimit = try deviceMemoryLimit(device)
        request.balanceWeights = randomWeights

        // The observers: progress, log, progress sheet, numbered snapshots.
        let total = request.totalIterations
        let progressObserver = ProgressObserver(ProgressDisplay(total: total, quiet: quiet))
        var observers = extraObservers
        if let log { observers.append(LogObserver(try outputs.openLog(log, option: "--log"), multiScale: sizes.count > 1)) }  // after the inputs: no empty log when one is bad
        observers.append(progressObserver)
        if let progressImage { observers.append(SheetObserver(path: progressImage, width: w, height: h, total: total, quality: quality)) }
        if let saveEvery { observers.append(SaveEveryObserver(output: output, every: saveEvery, total: total, quality: quality, outputs: outputs)) }
        let scaleText = sizes.count > 1 ? " in \(sizes.count) scales (" + sizes.map { "\($0.width)x\($0.height)" }.joined(separator: ", ") + ")" : ""
        progressObserver.display.message("stylizing \(w)x\(h)\(scaleText) on \(device.name), \(total) iterations, weights \(run.weightsOrigin)")

        var policy: StylizeCheckpoint.Policy?
        if let (path, key) = checkpoint {
            let url = URL(fileURLWithPath: path)
            let resume = FileManager.default.fileExists(atPath: path) ? try StylizeCheckpoint.read(from: url) : nil
            if let resume { progressObserver.display.message("resuming from \(path) after \(resume.iteration) iterations") }
            policy = StylizeCheckpoint.Policy(tag: key, every: checkpointEvery, resume: resume) { try $0.write(to: url) }
        }
        let result = try run.run(request, observers: observers, shouldStop: { Interrupt.requested != 0 }, checkpoints: policy)
        if let l = result.losses, !l.total.isFinite {  // a black picture with exit 0 would be a lie
            throw StyleTransferError("the run diverged: its loss is not a finite number (\(l.total)); nothing written")
        }
        if !result.interrupted || writeInterrupted { try ImageFile.write(result.picture, to: output, quality: quality) }
        if !result.interrupted, let (path, _) = checkpoint { try? FileManager.default.removeItem(atPath: path) }
        return (result, progressObserver.display)
    }
}
