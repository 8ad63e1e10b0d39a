import Foundation

/// How a run averages its iterates (`--average-iterates`): the picture it returns is an
/// exponential moving average of X over each scale's iterations instead of the last X, as
/// crowsonkb/style-transfer-pytorch does. The average smooths out the optimiser's last steps'
/// jitter (Adam's per-pixel steps keep moving every pixel by about the learning rate).
public enum IterateAveraging: Hashable, Codable, Sendable {
    /// A decay tied to each scale's iteration count N: 1 − 10/N (0.98 at 500 iterations, 0.9
    /// at 100), so the average's time constant 1/(1 − decay) is the last tenth of the scale:
    /// long enough to smooth the steps, short enough not to reach back to the early, unstyled
    /// iterates. At 10 iterations or fewer it is 0 (the last iterate).
    case auto
    /// This decay at every scale, in [0, 1).
    case decay(Double)

    /// The decay at a scale of `iterations`.
    public func decay(iterations: Int) -> Double {
        switch self {
        case .auto: return max(0, 1 - 10 / Double(max(iterations, 1)))
        case .decay(let d): return d
        }
    }

    /// "auto" or a decay such as 0.98.
    public init(parsing text: String, field: String = "averageIterates") throws {
        if text == "auto" { self = .auto; return }
        guard let d = Double(text), d >= 0, d < 1 else {
            throw SettingError(field, "'\(text)' is not auto or a decay from 0 up to (not including) 1, e.g. 0.98")
        }
        self = .decay(d)
    }
}

/// The bias-corrected exponential moving average of X, on the device: after k updates with
/// decay d it is Σᵢ dᵏ⁻ⁱ(1 − d)·xᵢ / (1 − dᵏ), kept directly as the running mean
/// mₖ = mₖ₋₁ + wₖ·(xₖ − mₖ₋₁) with wₖ = (1 − d)/(1 − dᵏ) (w₁ = 1: the first update is x
/// itself), one axpby per iteration and no host round trip.
package final class IterateAverage {
    let kernels: Kernels
    package let decay: Double
    package let mean: Buffer
    /// Updates so far.
    package private(set) var steps = 0

    package static func bytes(pixels: Int) -> Int { pixels * 4 }

    package init(kernels: Kernels, pixels: Int, decay: Double) throws {
        precondition(decay >= 0 && decay < 1, "decay \(decay) outside [0, 1)")
        self.kernels = kernels
        self.decay = decay
        mean = try kernels.context.buffer(floats: pixels)
    }

    /// The weight of the `k`th update (from 1).
    func weight(_ k: Int) -> Float { Float((1 - decay) / (1 - pow(decay, Double(k)))) }

    /// Adds X to the average.
    package func update(_ x: Buffer) throws {
        steps += 1
        let w = weight(steps)
        try kernels.axpby(w, x, 1 - w, mean, count: mean.floatCount)
    }

    /// A checkpoint's average and its step count.
    package func restore(mean values: [Float], steps: Int) throws {
        precondition(steps >= 0 && values.count == mean.floatCount, "an average of another size")
        try mean.write(values)
        self.steps = steps
    }
}
