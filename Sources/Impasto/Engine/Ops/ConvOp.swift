/// A 3×3 pad-1 convolution with bias. Its backward needs only the weights (weight gradients
/// are never needed: the network is fixed), so it keeps no activations alive.
public final class ConvOp: Op {
    public let name: String
    let k: Kernels
    let shape: TensorShape  // input
    let cout: Int
    let forwardWeights, bias, backwardWeights, zeroBias: Buffer

    public var backwardReadsInputs: Bool { false }
    public var backwardReadsOutput: Bool { false }
    public var ownedBytes: Int { forwardWeights.bytes + bias.bytes + backwardWeights.bytes + zeroBias.bytes }

    /// `weight` in PyTorch's [cout][cin][3][3] layout.
    public init(name: String, kernels: Kernels, input: TensorShape, cout: Int, weight: [Float], bias: [Float]) throws {
        self.name = name
        k = kernels
        shape = input
        self.cout = cout
        let ctx = kernels.context
        forwardWeights = try ctx.buffer(ConvLayout.forward(weight, cout: cout, cin: input.c))
        self.bias = try ctx.buffer(ConvLayout.paddedBias(bias))
        backwardWeights = try ctx.buffer(ConvLayout.backwardData(weight, cout: cout, cin: input.c))
        zeroBias = try ctx.buffer([Float](repeating: 0, count: input.c.roundedUp(to: 8)))
    }

    public var outputShape: TensorShape { TensorShape(c: cout, h: shape.h, w: shape.w) }

    public func forward(_ b: OpBuffers) throws -> [Event] {
        [try k.conv3x3(input: b.inputs[0], weights: forwardWeights, bias: bias, output: b.output!,
                       cin: shape.c, cout: cout, height: shape.h, width: shape.w)]
    }

    public func backward(_ b: OpBuffers) throws -> [Event] {
        [try k.conv3x3(input: b.gradOutput!, weights: backwardWeights, bias: zeroBias, output: b.gradInputs[0],
                       cin: cout, cout: shape.c, height: shape.h, width: shape.w, accumulate: b.accumulate[0])]
    }
}
