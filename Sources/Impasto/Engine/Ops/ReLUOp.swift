/// ReLU. Runs in place when the executor allows; it keeps which elements were positive as
/// bits, so its backward reads neither its input nor its output (they can be reused at once).
package final class ReLUOp: Op {
    package let name: String
    let k: Kernels
    let count: Int
    let mask: Buffer

    package var backwardReadsInputs: Bool { false }
    package var backwardReadsOutput: Bool { false }
    package var canRunInPlace: Bool { true }
    package var ownedBytes: Int { mask.bytes }

    package init(name: String, kernels: Kernels, shape: TensorShape) throws {
        self.name = name
        k = kernels
        count = shape.count
        mask = try kernels.context.buffer(floats: Kernels.reluMaskBytes(count) / 4)
    }

    package func forward(_ b: OpBuffers) throws -> [Event] {
        [try k.relu(b.inputs[0], into: b.output!, mask: mask, count: count)]
    }

    package func backward(_ b: OpBuffers) throws -> [Event] {
        [try k.reluBackward(mask: mask, gradOutput: b.gradOutput!, gradInput: b.gradInputs[0],
                            count: count, accumulate: b.accumulate[0])]
    }
}
