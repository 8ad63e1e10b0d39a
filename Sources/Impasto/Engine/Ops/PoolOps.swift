/// 2×2 stride-2 max-pool (floor). Its backward recomputes each window's argmax from the input.
public final class MaxPoolOp: Op {
    public let name: String
    let k: Kernels
    let shape: TensorShape  // input

    public var backwardReadsInputs: Bool { true }
    public var backwardReadsOutput: Bool { false }

    public init(name: String, kernels: Kernels, input: TensorShape) {
        self.name = name
        k = kernels
        shape = input
    }

    public var outputShape: TensorShape { TensorShape(c: shape.c, h: shape.h / 2, w: shape.w / 2) }

    public func forward(_ b: OpBuffers) throws -> [Event] {
        [try k.maxPool(b.inputs[0], into: b.output!, channels: shape.c, height: shape.h, width: shape.w)]
    }

    public func backward(_ b: OpBuffers) throws -> [Event] {
        [try k.maxPoolBackward(input: b.inputs[0], gradOutput: b.gradOutput!, gradInput: b.gradInputs[0],
                               channels: shape.c, height: shape.h, width: shape.w, accumulate: b.accumulate[0])]
    }
}

/// 2×2 stride-2 average pool (floor), `--pooling avg`.
public final class AvgPoolOp: Op {
    public let name: String
    let k: Kernels
    let shape: TensorShape  // input

    public var backwardReadsInputs: Bool { false }
    public var backwardReadsOutput: Bool { false }

    public init(name: String, kernels: Kernels, input: TensorShape) {
        self.name = name
        k = kernels
        shape = input
    }

    public var outputShape: TensorShape { TensorShape(c: shape.c, h: shape.h / 2, w: shape.w / 2) }

    public func forward(_ b: OpBuffers) throws -> [Event] {
        [try k.avgPool(b.inputs[0], into: b.output!, channels: shape.c, height: shape.h, width: shape.w)]
    }

    public func backward(_ b: OpBuffers) throws -> [Event] {
        [try k.avgPoolBackward(gradOutput: b.gradOutput!, gradInput: b.gradInputs[0], channels: shape.c,
                               height: shape.h, width: shape.w, accumulate: b.accumulate[0])]
    }
}
