/// Which 2×2 pooling: max (VGG19's own) or average (`--pooling avg`).
public enum PoolKind: String, CaseIterable, Codable, Sendable { case max, avg }

/// 2×2 stride-2 pooling (floor), max (VGG19's own) or average (`--pooling avg`). Max keeps
/// each window's argmax as a byte for its backward; the average backward needs nothing.
package final class PoolOp: Op {
    package let name: String
    let k: Kernels
    let shape: TensorShape  // input
    let kind: PoolKind
    let argmax: Buffer?

    package var backwardReadsInputs: Bool { false }
    package var backwardReadsOutput: Bool { false }
    package var ownedBytes: Int { argmax?.bytes ?? 0 }

    package init(name: String, kernels: Kernels, input: TensorShape, kind: PoolKind) throws {
        self.name = name
        k = kernels
        shape = input
        self.kind = kind
        let outputs = input.c * (input.h / 2) * (input.w / 2)
        argmax = kind == .max ? try kernels.context.buffer(floats: outputs.divRoundUp(4)) : nil
    }

    package var outputShape: TensorShape { TensorShape(c: shape.c, h: shape.h / 2, w: shape.w / 2) }

    package func forward(_ b: OpBuffers) throws -> [Event] {
        let (c, h, w) = (shape.c, shape.h, shape.w)
        switch kind {
        case .max: return [try k.maxPool(b.inputs[0], into: b.output!, argmax: argmax!, channels: c, height: h, width: w)]
        case .avg: return [try k.avgPool(b.inputs[0], into: b.output!, channels: c, height: h, width: w)]
        }
    }

    package func backward(_ b: OpBuffers) throws -> [Event] {
        let (c, h, w) = (shape.c, shape.h, shape.w)
        switch kind {
        case .max:
            return [try k.maxPoolBackward(argmax: argmax!, gradOutput: b.gradOutput!, gradInput: b.gradInputs[0],
                                          channels: c, height: h, width: w, accumulate: b.accumulate[0])]
        case .avg:
            return [try k.avgPoolBackward(gradOutput: b.gradOutput!, gradInput: b.gradInputs[0],
                                          channels: c, height: h, width: w, accumulate: b.accumulate[0])]
        }
    }
}
