/// The shape of one activation: channels × height × width (batch 1, CHW in memory).
public struct TensorShape: Equatable, CustomStringConvertible {
    public let c, h, w: Int
    public init(c: Int, h: Int, w: Int) { self.c = c; self.h = h; self.w = w }
    public var count: Int { c * h * w }
    public var description: String { "\(c)x\(h)x\(w)" }
}

public typealias TensorID = Int

/// The device buffers one op sees when it runs.
public struct OpBuffers {
    public let inputs: [Buffer]
    public let output: Buffer?
    /// Backward only: the gradient flowing in from the output (nil for loss ops).
    public let gradOutput: Buffer?
    /// Backward only: where to put each input's gradient, and whether to add to it (another
    /// consumer of that input already wrote there) or overwrite it.
    public let gradInputs: [Buffer]
    public let accumulate: [Bool]
}

/// One node's computation. Ops with no output are losses: they write their value into a slot
/// of the loss vector and, in backward, add their gradient to their input's.
public protocol Op: AnyObject {
    var name: String { get }
    /// Which values the backward pass reads (they are kept alive until then).
    var backwardReadsInputs: Bool { get }
    var backwardReadsOutput: Bool { get }
    /// The output may take the input's buffer, and the input gradient the output gradient's.
    var canRunInPlace: Bool { get }
    /// Device bytes the op owns beyond the plan (targets, scratch).
    var ownedBytes: Int { get }
    func forward(_ b: OpBuffers) throws -> [Event]
    func backward(_ b: OpBuffers) throws -> [Event]
    /// Loss ops: record the current input as the target (style Gram matrix, content features).
    func captureTarget(_ b: OpBuffers) throws -> [Event]
}

extension Op {
    public var canRunInPlace: Bool { false }
    public var ownedBytes: Int { 0 }
    public func captureTarget(_ b: OpBuffers) throws -> [Event] { [] }
}

/// A fixed computation: ops in execution order over tensors of known shapes. Built once for an
/// image size; the executor plans its memory once and runs it many times.
public final class Graph {
    public struct Node {
        public let op: Op
        public let inputs: [TensorID]
        public let output: TensorID?
    }

    public private(set) var shapes: [TensorShape] = []
    public private(set) var nodes: [Node] = []
    /// Tensors whose value and gradient live outside the plan (the image being optimised).
    public private(set) var external: Set<TensorID> = []
    /// Tensors kept alive after forward, for inspection (tests, debugging).
    public var retained: Set<TensorID> = []

    public init() {}

    public func input(_ shape: TensorShape) -> TensorID {
        shapes.append(shape)
        external.insert(shapes.count - 1)
        return shapes.count - 1
    }

    /// Appends an op; returns its output tensor (nil for a loss).
    @discardableResult
    public func add(_ op: Op, inputs: [TensorID], output shape: TensorShape?) -> TensorID? {
        precondition(inputs.allSatisfy { $0 < shapes.count }, "\(op.name): unknown input")
        var out: TensorID?
        if let shape {
            shapes.append(shape)
            out = shapes.count - 1
        }
        nodes.append(Node(op: op, inputs: inputs, output: out))
        return out
    }

    public func shape(_ t: TensorID) -> TensorShape { shapes[t] }
}
