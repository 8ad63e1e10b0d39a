/// A 3×3 pad-1 convolution with bias. Its backward needs only the weights (weight gradients
/// are never needed: the network is fixed), so it keeps no activations alive. Each direction
/// runs on its own kernel (`ConvKernel`: Winograd F(4x4, 3x3), direct, or the small-map kernel),
/// as `ConvChoices` picks for its shape. Either can carry the ReLU that follows it
/// (`fusedReLU`): its output is then max(conv, 0) and it keeps the ReLU's bit mask, which its
/// backward applies to the incoming gradient as it reads it, so neither direction spends a
/// pass over the activation on the ReLU.
package final class ConvOp: Op {
    package let name: String
    let k: Kernels
    let shape: TensorShape  // input
    let cout: Int
    let bias, zeroBias: Buffer
    /// Each direction's shape and kernel.
    package let forwardShape, backwardShape: ConvShape
    package let forwardKernel, backwardKernel: ConvKernel
    /// Only the layouts the two kernels read: PyTorch's [cout][cin][3][3] for Winograd
    /// (transformed on the device each pass into `scratch`), cl/conv3x3.cl's forward and
    /// backward layouts for the direct and small-map kernels.
    let rawWeights, forwardWeights, backwardWeights: Buffer?
    let scratch: WinogradScratch
    /// The fused ReLU's mask (cl/winograd.cl's row layout), nil when no ReLU is fused.
    let reluMask: Buffer?

    package var backwardReadsInputs: Bool { false }
    package var backwardReadsOutput: Bool { false }
    package var ownedBytes: Int {
        [rawWeights, forwardWeights, backwardWeights, bias, zeroBias, reluMask].reduce(0) { $0 + ($1?.bytes ?? 0) }
    }

    /// `weight` in PyTorch's [cout][cin][3][3] layout. `scratch` is shared by a graph's convs
    /// (reserved here for the directions that run Winograd); `algorithm` as `LossConfig` says.
    package init(name: String, kernels: Kernels, input: TensorShape, cout: Int, weight: [Float], bias: [Float],
                scratch: WinogradScratch, algorithm: ConvAlgorithm = .auto, fusedReLU: Bool = false) throws {
        self.name = name
        k = kernels
        shape = input
        self.cout = cout
        self.scratch = scratch
        let ctx = kernels.context
        self.bias = try ctx.buffer(ConvLayout.paddedBias(bias))
        zeroBias = try ctx.buffer([Float](repeating: 0, count: input.c.roundedUp(to: Kernels.convOCB)))
        forwardShape = ConvShape(cin: input.c, cout: cout, height: input.h, width: input.w, backward: false)
        backwardShape = ConvShape(cin: cout, cout: input.c, height: input.h, width: input.w, backward: true)
        forwardKernel = try ctx.convChoices.kernel(for: forwardShape, algorithm: algorithm, kernels: kernels)
        backwardKernel = try ctx.convChoices.kernel(for: backwardShape, algorithm: algorithm, kernels: kernels)
        reluMask = fusedReLU ? try ctx.buffer(floats: Kernels.rowMaskBytes(channels: cout, height: input.h, width: input.w) / 4) : nil
        if forwardKernel == .winograd { scratch.reserve(cin: input.c, cout: cout, h: input.h, w: input.w, backward: false) }
        if backwardKernel == .winograd { scratch.reserve(cin: cout, cout: input.c, h: input.h, w: input.w, backward: false) }
        rawWeights = forwardKernel == .winograd || backwardKernel == .winograd ? try ctx.buffer(weight) : nil
        forwardWeights = forwardKernel == .winograd ? nil : try ctx.buffer(ConvLayout.forward(weight, cout: cout, cin: input.c))
        backwardWeights = backwardKernel == .winograd ? nil : try ctx.buffer(ConvLayout.backwardData(weight, cout: cout, cin: input.c))
    }

    /// Whether either direction runs Winograd.
    package var usesWinograd: Bool { forwardKernel == .winograd || backwardKernel == .winograd }

    package var outputShape: TensorShape { TensorShape(c: cout, h: shape.h, w: shape.w) }

    package func forward(_ b: OpBuffers) throws -> [Event] {
        try k.conv(forwardKernel, shape: forwardShape, input: b.inputs[0], output: b.output!, raw: rawWeights, laid: forwardWeights,
                   bias: bias, reluMask: reluMask, scratch: scratch)
    }

    package func backward(_ b: OpBuffers) throws -> [Event] {
        try k.conv(backwardKernel, shape: backwardShape, input: b.gradOutput!, output: b.gradInputs[0], raw: rawWeights,
                   laid: backwardWeights, bias: zeroBias, accumulate: b.accumulate[0], inputMask: reluMask, scratch: scratch)
    }
}
