import Foundation

/// The weights of the three loss terms: the one representation of them, in requests,
/// objectives, checkpoints and video state. `seed` is the d2l.ai recipe's.
public struct LossWeights: Hashable, Codable, Sendable {
    public var content, style, tv: Float
    public init(content: Float, style: Float, tv: Float) { (self.content, self.style, self.tv) = (content, style, tv) }
    /// 1, 1e4 and 10 (design.md §1).
    public static let seed = LossWeights(content: 1, style: 1e4, tv: 10)

    /// The terms whose weights a run chooses itself from their sizes at step 0 (random VGG19
    /// weights, where the seed's weights paint a featureless blur; the W2 style loss's weight).
    public struct Balance: OptionSet, Hashable, Codable, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let content = Balance(rawValue: 1)
        public static let style = Balance(rawValue: 2)
    }
}

/// The network a loss is measured through: layers, pooling, how convolutions run and how
/// activations are stored; the defaults are the seed's recipe (design.md §1). The loss
/// weights are not part of it (`LossWeights`): one built network serves any weights.
public struct LossConfig: Hashable, Sendable {
    public var styleLayers = VGG19.defaultStyleLayers
    /// A factor per style layer (neural-style's style_layer_weights); nil: 1 each.
    public var styleLayerWeights: [Float]?
    public var contentLayers = VGG19.defaultContentLayers
    public var pooling = VGG19.Pooling.max
    /// Divide each loss's gradient by its L1 norm (neural-style's -normalize_gradients).
    public var normalizeGradients = false
    /// How the convolutions run (see `ConvAlgorithm`).
    public var convolution = ConvAlgorithm.auto
    /// How activations and their gradients are stored: fp32, or fp16 (half the memory of the
    /// activation plan; every sum stays fp32). fp16 needs a device with cl_khr_fp16.
    public var storage = Storage.fp32
    /// How each style layer's statistics are compared (see `StyleLossKind`).
    public var styleLoss = StyleLossKind.gram
    public init() {}

    /// What this configuration needs of a device: fp16 storage, cl_khr_fp16.
    public func check(on device: Device) throws {
        if storage == .fp16 && !device.hasFP16 {
            throw StyleTransferError("fp16 storage needs a device with cl_khr_fp16, and \(device.name) does not have it; use fp32 storage (the default)")
        }
    }

    func layerFactor(_ module: Int) -> Float {
        guard let w = styleLayerWeights, let k = styleLayers.firstIndex(of: module), k < w.count else { return 1 }
        return w[k]
    }
}

/// Which algorithm the 3×3 convolutions use. `auto` (the default) runs each layer's forward
/// and backward pass on the kernel the autotune timed fastest for its shape on this device
/// (`ConvChoices`; before a context is tuned, Winograd wherever it can). The others force one
/// kernel everywhere it can run: Winograd F(4x4, 3x3) takes 4× fewer multiplies on every layer
/// with at least 16 channels; direct is the plain sum of 9·Cin products per output, closer to
/// float64 (README, "Accuracy"); small-map is the direct sum vectorised along output channels,
/// for maps of a few pixels with many channels (a multiple of 16 of them). Where a forced
/// kernel cannot run (the RGB layer), the direct one does.
public enum ConvAlgorithm: String, CaseIterable, Codable, Sendable {
    case auto, winograd, direct
    case smallMap = "small-map"
}

/// How a style layer's statistics are compared with the style's. `gram` (the default, the
/// seed's) is Gatys et al.'s: the mean squared difference of Gram matrices. `w2` is the
/// squared Wasserstein-2 distance between Gaussians fitted to the two sets of features
/// (crowsonkb/style-transfer-pytorch): per layer, (|μ − μₛ|² + tr Σ + tr Σₛ − 2 tr √(Σₛ^½ Σ Σₛ^½)) / C,
/// which matches the features' means and their covariance, not only their second moments
/// about zero. Its square roots are Newton–Schulz iterations on the device; both covariances
/// get 3% of the style's mean channel variance on every channel (`Kernels.w2Shift`), so that
/// fp32 stays stable where a layer has fewer pixels than channels (`StyleLossOp`). W2's terms are feature² where Gram's are
/// (feature²/C)², so the seed's style weight of 1e4 belongs to Gram alone: under W2 a style
/// weight left unset is chosen by the run from the step-0 sizes (`LossWeights.Balance`).
public enum StyleLossKind: String, CaseIterable, Codable, Sendable {
    case gram, w2
}

/// The loss terms of one iteration, weighted, as the seed's trajectory reports them.
public struct LossTerms: Equatable, Sendable, Codable {
    public let content, style, tv: Float
    /// Video: the temporal loss (0 without one).
    public var temporal: Float = 0
    public var total: Float { content + style + tv + temporal }
}

public struct StyleTransferError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
