import Foundation

/// The one seeded random generator of the product and its tests (SplitMix64): random weights,
/// `--init noise`, the self-test's and autotune's data, every test's inputs. Small and fast,
/// and the same sequence on every machine.
package struct SplitMix64 {
    var state: UInt64
    package init(seed: UInt64) { state = seed }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in (0, 1].
    package mutating func uniform() -> Double { (Double(next() >> 11) + 1) / 9_007_199_254_740_992.0 }
    /// Standard normal (Box–Muller).
    package mutating func normal() -> Double {
        (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform())
    }
    /// Uniform in [-1, 1), 24 bits.
    package mutating func float() -> Float { Float(next() >> 40) / Float(1 << 24) * 2 - 1 }
    /// `n` of `float()` times `scale`.
    package mutating func floats(_ n: Int, scale: Float = 1) -> [Float] { (0..<n).map { _ in float() * scale } }
}
