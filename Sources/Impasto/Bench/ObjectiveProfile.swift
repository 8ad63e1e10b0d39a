import Foundation

/// `impasto profile`'s measurement: forward, backward and an Adam step of the whole style
/// objective on random pictures, timed by the wall clock and per op by the device's events.
package struct ObjectiveProfile {
    package let width, height, iterations: Int
    /// Wall seconds per iteration, and device seconds per iteration by op.
    package let wall: Double
    package let ops: [String: Double]
    package let plannedBytes, activationBytes: Int
    /// Each convolution direction's kernel and shape, by the name `ops` gives it.
    package let convs: [String: ConvRun]
    package struct ConvRun {
        package let kernel: ConvKernel
        package let shape: ConvShape
        /// The kernel and how it was chosen (timed now, cached, untimed; `ConvChoices`).
        package let choice: String
    }
    package var device: Double { ops.values.reduce(0, +) }
    /// Whether the split by op means anything (`Bench.plausible`).
    package var plausible: Bool { Bench.plausible(device: device, wall: wall) }

    package init(context: CLContext, weights: VGGWeights, width w: Int, height h: Int, storage: Storage, iterations: Int) throws {
        var config = LossConfig()
        config.storage = storage
        let model = try WholeImageObjective(context: context, weights: weights, width: w, height: h, config: config)
        let adam = try AdamOptimizer(objective: model)
        var rng = SplitMix64(seed: 9)
        let n = 3 * w * h
        try model.setStyle((0..<n).map { _ in Float(rng.normal()) })
        try model.setContent((0..<n).map { _ in Float(rng.normal()) })
        _ = try adam.step(rate: 0.3)  // warm-up: kernels specialise on first launch
        model.network.profiling = true
        let start = Date()
        for _ in 0..<iterations { _ = try adam.step(rate: 0.3) }
        wall = Date().timeIntervalSince(start) / Double(iterations)
        ops = try model.network.profile().mapValues { $0 / Double(iterations) }
        (width, height, self.iterations) = (w, h, iterations)
        (plannedBytes, activationBytes) = (model.deviceBytes + adam.deviceBytes, model.network.plan.totalBytes)
        var convs: [String: ConvRun] = [:]
        for case let conv as ConvOp in model.network.graph.nodes.map(\.op) {
            for (name, kernel, shape) in [(conv.name, conv.forwardKernel, conv.forwardShape),
                                          (conv.name + ".backward", conv.backwardKernel, conv.backwardShape)] {
                convs[name] = ConvRun(kernel: kernel, shape: shape, choice: context.convChoices.reason(for: shape) ?? kernel.description)
            }
        }
        self.convs = convs
    }
}
