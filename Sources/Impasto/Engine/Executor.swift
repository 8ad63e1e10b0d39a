import Foundation

/// Runs a graph forward and backward over the buffers of its `BufferPlan`, all allocated
/// once at construction. The graph's external input (the image) and its gradient are buffers
/// the caller owns. With `storage: .fp16` every slot (activations and their gradients) holds
/// fp16, which halves the plan; the ops' kernels convert as they load and store. (Gradients
/// alone in fp32 would not help: the plan shares slots between values and gradients, and two
/// pools took more memory than one fp32 pool.)
package final class Executor {
    package let graph: Graph
    package let plan: BufferPlan
    let context: CLContext
    private let slots: [Buffer]
    private let externalValues: [TensorID: Buffer]
    private let externalGrads: [TensorID: Buffer]

    /// When on, every command's device time is summed per op name (forward and backward apart).
    package var profiling = false
    package private(set) var profile: [String: Double] = [:]
    private var pending: [(String, [Event])] = []

    package init(graph: Graph, context: CLContext, inputs: [TensorID: Buffer], inputGrads: [TensorID: Buffer],
                storage: Storage = .fp32) throws {
        self.graph = graph
        self.context = context
        plan = BufferPlan(graph: graph, elementBytes: storage.bytes)
        slots = try plan.slotBytes.map { try context.buffer(count: $0 / storage.bytes, storage: storage) }
        externalValues = inputs
        externalGrads = inputGrads
        precondition(Set(inputs.keys) == graph.external, "every external tensor needs a buffer")
    }

    /// Device bytes of the plan's slots plus what the ops own.
    package var deviceBytes: Int { plan.totalBytes + graph.nodes.reduce(0) { $0 + $1.op.ownedBytes } }

    package func value(_ t: TensorID) -> Buffer {
        if let b = externalValues[t] { return b }
        guard let s = plan.valueSlot[t] else { preconditionFailure("tensor \(t) has no value buffer") }
        return slots[s]
    }

    func grad(_ t: TensorID) -> Buffer? {
        if let b = externalGrads[t] { return b }
        return plan.gradSlot[t].map { slots[$0] }
    }

    /// Runs every op forward and computes the losses.
    package func forward() throws {
        try context.recordingEvents(profiling) {
            for node in graph.nodes { record(node.op.name, try node.op.forward(buffers(node))) }
        }
    }

    /// Runs the network forward and lets the loss ops that `capturing` selects record their
    /// input as their target (on the style image, the content image); other losses are skipped.
    package func forward(capturing: (Op) -> Bool) throws {
        try context.recordingEvents(profiling) { try forwardRecorded(capturing: capturing) }
    }

    private func forwardRecorded(capturing: (Op) -> Bool) throws {
        for node in graph.nodes {
            if node.output != nil {
                record(node.op.name, try node.op.forward(buffers(node)))
            } else if capturing(node.op) {
                record(node.op.name + ".capture", try node.op.captureTarget(buffers(node)))
            }
        }
    }

    private func buffers(_ node: Graph.Node) -> OpBuffers {
        OpBuffers(inputs: node.inputs.map(value), output: node.output.map(value),
                  gradOutput: nil, gradInputs: [], accumulate: [])
    }

    /// Runs backward in reverse order, leaving ∂loss/∂input in the external gradient buffers.
    package func backward() throws {
        try context.recordingEvents(profiling) { try backwardRecorded() }
    }

    private func backwardRecorded() throws {
        for (i, node) in graph.nodes.enumerated().reversed() where plan.runsBackward[i] {
            let gradInputs = node.inputs.map { t -> Buffer in
                guard let g = grad(t) else { preconditionFailure("\(node.op.name): input \(t) has no gradient buffer") }
                return g
            }
            let b = OpBuffers(inputs: node.inputs.map(value), output: node.output.map(value),
                              gradOutput: node.output.flatMap(grad), gradInputs: gradInputs,
                              accumulate: plan.accumulate[i], workspace: plan.workspaceSlot[i].map { slots[$0] })
            record(node.op.name + ".backward", try node.op.backward(b))
        }
    }

    private func record(_ name: String, _ events: [Event]) {
        if profiling { pending.append((name, events)) }
    }

    /// Waits for the device and folds the recorded events into `profile`.
    package func collectProfile() throws {
        try context.finish()
        for (name, events) in pending {
            profile[name, default: 0] += try events.reduce(0) { $0 + (try $1.seconds()) }
        }
        pending.removeAll()
    }

    package func resetProfile() {
        pending.removeAll()
        profile.removeAll()
    }
}
