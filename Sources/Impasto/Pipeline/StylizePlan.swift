import Foundation

/// What a run will do before it does it (`impasto plan`, `Stylization.plan`): each scale's
/// size, iterations, tiling and device memory, from the very models the run would build
/// (reserved, not allocated: `Objectives.choose`), the host memory, and the time the
/// convolutions take by the autotune's measurements of their shapes on this device.
public struct StylizePlan: Codable, Sendable {
    public struct Tiles: Codable, Sendable, Equatable {
        public let columns, rows, cropWidth, cropHeight: Int
    }

    public struct Scale: Codable, Sendable {
        public let width, height, iterations: Int
        /// nil: the whole image at once.
        public let tiles: Tiles?
        /// The model's device bytes (what the run's `.model` event reports), its largest
        /// buffer, and what the optimiser, the average and the last scale's leftovers add.
        public let modelBytes, largestBuffer, optimizerBytes, heldBytes: Int
        /// Their sum: the device memory the scale needs.
        public let deviceBytes: Int
        /// The convolutions' seconds per iteration (forward and backward; a tiled scale runs
        /// every tile's forward twice), by the autotune's timings; nil where a shape was never
        /// timed on this device (an untuned context, a spent autotune budget).
        public let convolutionSeconds: Double?
    }

    public let device: String
    public let scales: [Scale]
    /// The host bytes of the pictures (inputs as decoded, each scale's copies) and the
    /// weights held until the last model is built; on a CPU device the device memory is host
    /// memory too.
    public let hostBytes: Int
    public let deviceIsHost: Bool

    /// The most device memory any scale needs.
    public let peakDeviceBytes: Int
    /// The convolutions' seconds over the whole run (nil if a scale has no estimate).
    public let convolutionSeconds: Double?

    init(device: String, scales: [Scale], hostBytes: Int, deviceIsHost: Bool) {
        (self.device, self.scales, self.hostBytes, self.deviceIsHost) = (device, scales, hostBytes, deviceIsHost)
        peakDeviceBytes = scales.map(\.deviceBytes).max() ?? 0
        convolutionSeconds = scales.reduce(0.0 as Double?) { sum, s in sum.flatMap { a in s.convolutionSeconds.map { a + $0 * Double(s.iterations) } } }
    }

    /// The plan as text, one line a scale and the totals.
    public var text: String {
        var lines = ["on \(device):"]
        for (i, s) in scales.enumerated() {
            let layout = s.tiles.map { "\($0.columns)x\($0.rows) tiles of \($0.cropWidth)x\($0.cropHeight)" } ?? "whole"
            let time = s.convolutionSeconds.map { String(format: "%.3f s per iteration in convolutions", $0) } ?? "convolution time not measured"
            lines.append("scale \(i + 1): \(s.width)x\(s.height), \(s.iterations) iterations, \(layout), \(mebibytes(s.deviceBytes)) of device memory (model \(mebibytes(s.modelBytes)), largest buffer \(mebibytes(s.largestBuffer)), optimiser \(mebibytes(s.optimizerBytes)), last scale's \(mebibytes(s.heldBytes))), \(time)")
        }
        lines.append("host memory about \(mebibytes(hostBytes))" + (deviceIsHost ? " besides the device memory, which is host memory too on this CPU device" : ""))
        lines.append(convolutionSeconds.map { String(format: "about %.0f s in convolutions over the run (the other kernels add to it)", $0) }
                     ?? "no time estimate: the convolutions' shapes were not timed on this device")
        return lines.joined(separator: "\n")
    }
}

extension Stylization {
    /// The plan of `request` on this device and weights: every scale's model chosen as the run
    /// chooses it (`ScaleBudget`, `Objectives.choose`), reserved and let go, nothing allocated.
    public func plan(_ request: StylizeRequest) throws -> StylizePlan {
        try request.validate()
        try request.loss.check(on: context.device)
        guard let weights = heldWeights else { throw StyleTransferError("this Stylization's weights were released after its run") }
        let memoryLimit = min(request.memoryLimit ?? Objectives.defaultLimit(context.device), Int(context.device.globalMemBytes))
        let masks = request.regions.masks.count
        var scales: [StylizePlan.Scale] = []
        for (i, (w, h)) in request.sizes.enumerated() {
            let budget = try ScaleBudget(request, scale: i, memoryLimit: memoryLimit, afterPrevious: i > 0)
            let choice = try Objectives.choose(context: context, weights: weights, width: w, height: h, config: request.loss,
                                               masks: masks, memoryLimit: budget.model)
            scales.append(StylizePlan.Scale(
                width: w, height: h, iterations: request.iterations[i],
                tiles: choice.tiles.map { StylizePlan.Tiles(columns: $0.columns, rows: $0.rows, cropWidth: $0.cropWidth, cropHeight: $0.cropHeight) },
                modelBytes: choice.memory.total, largestBuffer: choice.memory.largest, optimizerBytes: budget.optimizer, heldBytes: budget.held,
                deviceBytes: choice.memory.total + budget.optimizer + budget.held,
                convolutionSeconds: choice.convolutionSeconds(context.convChoices)))
        }
        let (w, h) = request.outputSize
        let pictures = ([request.content] + request.styles + [request.mask].compactMap { $0 } + (request.styleMasks ?? []).compactMap { $0 })
            .reduce(0) { $0 + $1.width * $1.height * 12 }
        // The content at the output size, colour-mode copies, the result and its finish; a checkpoint's X.
        let perOutput = 6 * w * h * 12
        return StylizePlan(device: context.device.name, scales: scales, hostBytes: pictures + perOutput + weights.bytes,
                           deviceIsHost: context.device.isCPU)
    }
}

extension Objectives.Choice {
    /// The reserved model's convolutions' seconds per iteration by `choices`' timings: each
    /// conv's forward and backward (a tiled model's forward runs twice a tile: the gathering
    /// sweep and the gradient sweep, and every tile runs).
    func convolutionSeconds(_ choices: ConvChoices) -> Double? {
        guard let network = reserved.planned.lossNetwork else { return nil }
        var forward = 0.0, backward = 0.0
        for case let conv as ConvOp in network.graph.nodes.map(\.op) {
            guard let f = choices.estimatedSeconds(for: conv.forwardShape, kernel: conv.forwardKernel),
                  let b = choices.estimatedSeconds(for: conv.backwardShape, kernel: conv.backwardKernel) else { return nil }
            forward += f
            backward += b
        }
        guard let tiles else { return forward + backward }
        return Double(tiles.tiles.count) * (2 * forward + backward)
    }
}

extension Objective {
    /// The network the objective runs (a tiled one's crop-sized network).
    var lossNetwork: LossNetwork? { (self as? WholeImageObjective)?.network ?? (self as? TiledObjective)?.network }
}
