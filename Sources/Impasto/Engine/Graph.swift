/// The shape of one activation: channels × height × width (batch 1, CHW in memory).
package struct TensorShape: Equatable, CustomStringConvertible {
    package let c, h, w: Int
    package init(c: Int, h: Int, w: Int) { self.c = c; self.h = h; self.w = w }
    package var count: Int { c * h * w }
    package var description: String { "\(c)x\(h)x\(w)" }
}

package typealias TensorID = Int

/// The device buffers one op sees when it runs.
package struct OpBuffers {
    package let inputs: [Buffer]
    package let output: Buffer?
    /// Backward only: the gradient flowing in from the output (nil for loss ops).
    package let gradOutput: Buffer?
    /// Backward only: where to put each input's gradient, and whether to add to it (another
    /// consumer of that input already wrote there) or overwrite it.
    package let gradInputs: [Buffer]
    package let accumulate: [Bool]
    /// Backward only: the slot the plan lends for the op's `backwardWorkspace`.
    package var workspace: Buffer? = nil
}

/// One node's computation. Ops with no output are losses: they write their value into a slot
/// of the loss vector and, in backward, add their gradient to their input's.
package protocol Op: AnyObject {
    var name: String { get }
    /// Which values the backward pass reads (they are kept alive until then).
    var backwardReadsInputs: Bool { get }
    var backwardReadsOutput: Bool { get }
    /// The output may take the input's buffer, and the input gradient the output gradient's.
    var canRunInPlace: Bool { get }
    /// Device bytes the op owns beyond the plan (targets, scratch).
    var ownedBytes: Int { get }
    /// A tensor its backward needs as scratch for that step only: the plan lends it a slot
    /// that is free then, instead of the op owning one for the whole run.
    var backwardWorkspace: TensorShape? { get }
    func forward(_ b: OpBuffers) throws -> [Event]
    func backward(_ b: OpBuffers) throws -> [Event]
    /// Loss ops: record the current input as the target (style Gram matrix, content features).
    func captureTarget(_ b: OpBuffers) throws -> [Event]
}

extension Op {
    package var canRunInPlace: Bool { false }
    package var ownedBytes: Int { 0 }
    package var backwardWorkspace: TensorShape? { nil }
    package func captureTarget(_ b: OpBuffers) throws -> [Event] { [] }
}

/// A fixed computation: ops in execution order over tensors of known shapes. Built once for an
/// image size; the executor plans its memory once and runs it many times.
package final class Graph {
    package struct Node {
        package let op: Op
        package let inputs: [TensorID]
        package let output: TensorID?
    }

    package private(set) var shapes: [TensorShape] = []
    package private(set) var nodes: [Node] = []
    /// Tensors whose value and gradient live outside the plan (the image being optimised).
    package private(set) var external: Set<TensorID> = []
    /// Tensors kept alive after forward, for inspection (tests, debugging).
    package var retained: Set<TensorID> = []

    package init() {}

    package func input(_ shape: TensorShape) -> TensorID {
        shapes.append(shape)
        external.insert(shapes.count - 1)
        return shapes.count - 1
    }

    /// Appends an op; returns its output tensor (nil for a loss).
    @discardableResult
    package func add(_ op: Op, inputs: [TensorID], output shape: TensorShape?) -> TensorID? {
        precondition(inputs.allSatisfy { $0 < shapes.count }, "\(op.name): unknown input")
        var out: TensorID?
        if let shape {
            shapes.append(shape)
            out = shapes.count - 1
        }
        nodes.append(Node(op: op, inputs: inputs, output: out))
        return out
    }

    package func shape(_ t: TensorID) -> TensorShape { shapes[t] }

    /// The ops that compute `t` from `source` through single-input nodes, in order; nil when
    /// `t` is not such a chain away from `source`.
    package func chain(from source: TensorID, to t: TensorID) -> [Op]? {
        var ops: [Op] = [], x = t
        while x != source {
            guard let node = nodes.first(where: { $0.output == x }), node.inputs.count == 1 else { return nil }
            ops.insert(node.op, at: 0)
            x = node.inputs[0]
        }
        return ops
    }
}
