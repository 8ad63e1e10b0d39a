/// ReLU. Runs in place when the executor allows; its backward reads only its own output.
public final class ReLUOp: Op {
    public let name: String
    let k: Kernels
    let count: Int

    public var backwardReadsInputs: Bool { false }
    public var backwardReadsOutput: Bool { true }
    public var canRunInPlace: Bool { true }

    public init(name: String, kernels: Kernels, shape: TensorShape) {
        self.name = name
        k = kernels
        count = shape.count
    }

    public func forward(_ b: OpBuffers) throws -> [Event] {
        [try k.relu(b.inputs[0], into: b.output!, count: count)]
    }

    public func backward(_ b: OpBuffers) throws -> [Event] {
        [try k.reluBackward(output: b.output!, gradOutput: b.gradOutput!, gradInput: b.gradInputs[0],
                            count: count, accumulate: b.accumulate[0])]
    }
}
