import Foundation

/// Gatys style transfer of a picture that fits the device whole: the loss network runs on
/// the image X itself (the parameter; VGG19 is fixed), TV included.
package final class WholeImageObjective: Objective {
    package let width, height: Int
    package let context: CLContext
    package let config: LossConfig
    package let kernels: Kernels
    package let network: LossNetwork
    /// X, its gradient and the picture staging.
    package let image: OptimizedImage

    package var styleOps: [StyleLossOp] { network.styleOps }

    /// `retainModules`: module outputs kept for `network.moduleOutput` (tests). `masks`: the
    /// style regions `setMasks` will set (their buffers are allocated now, so that
    /// `CLContext.reserve` counts them).
    package init(context: CLContext, weights: VGGWeights, width: Int, height: Int, config: LossConfig = LossConfig(),
                retainModules: Set<Int> = [], masks: Int = 0) throws {
        try Self.checkSize(width, height)
        try config.check(on: context.device)
        self.width = width
        self.height = height
        self.context = context
        self.config = config
        kernels = try Kernels(context: context)
        image = try OptimizedImage(kernels: kernels, width: width, height: height)
        network = try LossNetwork(kernels: kernels, weights: weights, width: width, height: height, config: config,
                                  input: image.x, inputGrad: image.grad, retainModules: retainModules, masks: masks)
    }

    static func checkSize(_ width: Int, _ height: Int) throws {
        guard width >= VGG19.minimumSide, height >= VGG19.minimumSide else {
            throw StyleTransferError("image size \(width)x\(height) is too small: VGG19's four poolings need at least \(VGG19.minimumSide)x\(VGG19.minimumSide)")
        }
    }

    /// Device bytes: the network's and the image's.
    package var deviceBytes: Int { network.deviceBytes + image.bytes }

    /// Style targets (Gram matrices) from a normalised planar image.
    package func setStyle(_ values: [Float]) throws {
        try setImage(values)
        try network.captureStyleGrams()
        for op in styleOps { try op.setTarget(weight: 1, adding: false) }
    }

    package func captureStyles(_ styles: [StyleSource]) throws {
        try StyleSource.blend(styles, into: styleOps) { picture in
            try upload(picture)
            try network.captureStyleGrams()
        }
    }

    /// Content targets from a normalised planar image; X starts there.
    package func setContent(_ values: [Float]) throws {
        try setImage(values)
        try network.captureContent()
    }

    package func setContent(_ picture: RGBImage) throws {
        try upload(picture)
        try network.captureContent()
    }

    /// Spatial control: region r's style applies where `masks[r]` is white (soft edges blend),
    /// not where it is black; the content and TV terms act everywhere. Any size: each is
    /// resized to each style layer. None: the one style target over the whole picture.
    package func setMasks(_ masks: [RGBImage]) throws {
        for op in styleOps {
            try op.setMasks(masks.map { Self.maskValues($0, width: op.layerWidth, height: op.layerHeight) })
        }
    }

    /// A mask picture's luminance at a layer's size, one value per pixel.
    static func maskValues(_ mask: RGBImage, width: Int, height: Int) -> [Float] {
        let small = ColorTransfer.luminance(mask).resized(width: width, height: height)
        return stride(from: 0, to: small.pixels.count, by: 3).map { small.pixels[$0] }
    }

    package func setWeights(_ w: LossWeights) { network.setWeights(w) }

    /// Forward and backward at the current X: the loss terms, and ∂total/∂X in `grad`.
    package func evaluate() throws -> LossTerms { try network.evaluate() }
    package func startEvaluation() throws -> PendingLosses { try network.startEvaluation() }
}
