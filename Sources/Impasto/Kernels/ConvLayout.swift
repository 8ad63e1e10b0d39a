/// Rearranges PyTorch's conv weights ([cout][cin][3][3]) into what `cl/conv3x3.cl` reads.
package enum ConvLayout {
    /// Output channels as the kernel pads them: to its block of 4 or 8 (`Kernels.convBlock`).
    package static func paddedChannels(_ cout: Int) -> Int { cout.roundedUp(to: Kernels.convBlock(cout: cout)) }

    /// Forward: [cin][9][coutPad], output channels contiguous and padded with zeros.
    package static func forward(_ w: [Float], cout: Int, cin: Int) -> [Float] {
        precondition(w.count == cout * cin * 9, "conv weights: \(w.count) values for \(cout)x\(cin)x3x3")
        let pad = paddedChannels(cout)
        var out = [Float](repeating: 0, count: cin * 9 * pad)
        for o in 0..<cout {
            for i in 0..<cin {
                for k in 0..<9 { out[(i * 9 + k) * pad + o] = w[(o * cin + i) * 9 + k] }
            }
        }
        return out
    }

    /// Backward with respect to the input: the kernel rotated 180° with in/out swapped, so the
    /// same convolution maps a [cout] gradient to a [cin] one: [cout][9][cinPad].
    package static func backwardData(_ w: [Float], cout: Int, cin: Int) -> [Float] {
        precondition(w.count == cout * cin * 9, "conv weights: \(w.count) values for \(cout)x\(cin)x3x3")
        let pad = paddedChannels(cin)
        var out = [Float](repeating: 0, count: cout * 9 * pad)
        for o in 0..<cout {
            for i in 0..<cin {
                for k in 0..<9 { out[(o * 9 + (8 - k)) * pad + i] = w[(o * cin + i) * 9 + k] }
            }
        }
        return out
    }

    /// A bias padded with zeros to a multiple of 8 (enough for either block).
    package static func paddedBias(_ b: [Float]) -> [Float] {
        b + [Float](repeating: 0, count: b.count.roundedUp(to: 8) - b.count)
    }
}
