/// A 3×3 pad-1 convolution with bias. Its backward needs only the weights (weight gradients
/// are never needed: the network is fixed), so it keeps no activations alive. Layers with
/// enough channels run as Winograd F(4x4, 3x3) (4× fewer multiplies), the rest (the RGB
/// input layer) as the direct kernel. Either can carry the ReLU that follows it
/// (`fusedReLU`): its output is then max(conv, 0) and it keeps the ReLU's bit mask, which its
/// backward applies to the incoming gradient as it reads it, so neither direction spends a
/// pass over the activation on the ReLU.
package final class ConvOp: Op {
    package let name: String
    let k: Kernels
    let shape: TensorShape  // input
    let cout: Int
    let bias, zeroBias: Buffer
    let algorithm: Algorithm
    /// The fused ReLU's mask (cl/winograd.cl's row layout), nil when no ReLU is fused.
    let reluMask: Buffer?

    enum Algorithm {
        /// Weights laid out for cl/conv3x3.cl, forward and backward.
        case direct(forward: Buffer, backward: Buffer)
        /// PyTorch-layout weights, transformed on the device each pass into shared scratch.
        case winograd(weights: Buffer, scratch: WinogradScratch)
    }

    package var backwardReadsInputs: Bool { false }
    package var backwardReadsOutput: Bool { false }
    package var ownedBytes: Int {
        switch algorithm {
        case .direct(let f, let b): return f.bytes + b.bytes + bias.bytes + zeroBias.bytes + (reluMask?.bytes ?? 0)
        case .winograd(let w, _): return w.bytes + bias.bytes + zeroBias.bytes + (reluMask?.bytes ?? 0)
        }
    }

    /// Whether a conv of these channels runs as Winograd.
    package static func usesWinograd(cin: Int, cout: Int, scratch: WinogradScratch?) -> Bool {
        scratch != nil && Kernels.prefersWinograd(cin: cin, cout: cout)
    }

    /// `weight` in PyTorch's [cout][cin][3][3] layout. `scratch` is shared by a graph's convs;
    /// nil forces the direct kernel.
    package init(name: String, kernels: Kernels, input: TensorShape, cout: Int, weight: [Float], bias: [Float],
                scratch: WinogradScratch?, fusedReLU: Bool = false) throws {
        self.name = name
        k = kernels
        shape = input
        self.cout = cout
        let ctx = kernels.context
        self.bias = try ctx.buffer(ConvLayout.paddedBias(bias))
        zeroBias = try ctx.buffer([Float](repeating: 0, count: input.c.roundedUp(to: Kernels.convOCB)))
        let winograd = Self.usesWinograd(cin: input.c, cout: cout, scratch: scratch)
        reluMask = fusedReLU ? try ctx.buffer(floats: Kernels.rowMaskBytes(channels: cout, height: input.h, width: input.w) / 4) : nil
        if winograd, let scratch {
            scratch.reserve(cin: input.c, cout: cout, h: input.h, w: input.w)
            algorithm = .winograd(weights: try ctx.buffer(weight), scratch: scratch)
        } else {
            algorithm = .direct(forward: try ctx.buffer(ConvLayout.forward(weight, cout: cout, cin: input.c)),
                                backward: try ctx.buffer(ConvLayout.backwardData(weight, cout: cout, cin: input.c)))
        }
    }

    package var isWinograd: Bool {
        if case .winograd = algorithm { return true }
        return false
    }

    package var outputShape: TensorShape { TensorShape(c: cout, h: shape.h, w: shape.w) }

    package func forward(_ b: OpBuffers) throws -> [Event] {
        switch algorithm {
        case .direct(let weights, _):
            return [try k.conv3x3(input: b.inputs[0], weights: weights, bias: bias, output: b.output!,
                                  cin: shape.c, cout: cout, height: shape.h, width: shape.w, reluMask: reluMask)]
        case .winograd(let weights, let scratch):
            return try k.winogradConv(input: b.inputs[0], weights: weights, flipped: false, bias: bias, output: b.output!,
                                      cin: shape.c, cout: cout, height: shape.h, width: shape.w, reluMask: reluMask, scratch: scratch)
        }
    }

    package func backward(_ b: OpBuffers) throws -> [Event] {
        switch algorithm {
        case .direct(_, let weights):
            return [try k.conv3x3(input: b.gradOutput!, weights: weights, bias: zeroBias, output: b.gradInputs[0],
                                  cin: cout, cout: shape.c, height: shape.h, width: shape.w, accumulate: b.accumulate[0],
                                  inputMask: reluMask)]
        case .winograd(let weights, let scratch):
            return try k.winogradConv(input: b.gradOutput!, weights: weights, flipped: true, bias: zeroBias, output: b.gradInputs[0],
                                      cin: cout, cout: shape.c, height: shape.h, width: shape.w, accumulate: b.accumulate[0],
                                      inputMask: reluMask, scratch: scratch)
        }
    }
}
