/// The static memory plan of a graph: which buffer slot holds each value and each gradient,
/// decided once by liveness over the schedule forward 0…n−1, then backward n−1…0, so that an
/// iteration allocates nothing. A slot is reused as soon as what it held is dead; ReLU-like
/// ops run in place when their input has no later reader.
package struct BufferPlan {
    /// Bytes of each slot (each becomes one device buffer).
    package private(set) var slotBytes: [Int] = []
    /// Slot of each tensor's value / gradient (nil: external, or not needed).
    package private(set) var valueSlot: [Int?]
    package private(set) var gradSlot: [Int?]
    /// Per node: the slot lent to its backward as workspace (`Op.backwardWorkspace`).
    package private(set) var workspaceSlot: [Int?]
    /// Per node, per input: whether its backward adds into that input's gradient.
    package private(set) var accumulate: [[Bool]]
    /// Per node: whether its backward runs (some gradient reaches it).
    package private(set) var runsBackward: [Bool]

    package var totalBytes: Int { slotBytes.reduce(0, +) }

    /// `elementBytes`: 4, or 2 where activations and gradients are stored as fp16.
    package init(graph g: Graph, elementBytes: Int = 4) {
        let n = g.nodes.count
        let tensors = g.shapes.count
        valueSlot = Array(repeating: nil, count: tensors)
        gradSlot = Array(repeating: nil, count: tensors)
        workspaceSlot = Array(repeating: nil, count: n)
        accumulate = g.nodes.map { [Bool](repeating: false, count: $0.inputs.count) }
        runsBackward = Array(repeating: false, count: n)
        let forwardStep = { (i: Int) in i }
        let backwardStep = { (i: Int) in 2 * n - 1 - i }

        // Which nodes run backward, and who writes each gradient first.
        var producer = [Int?](repeating: nil, count: tensors)
        for (i, node) in g.nodes.enumerated() { if let o = node.output { producer[o] = i } }
        var gradWritten = [Bool](repeating: false, count: tensors)
        var gradFirstStep = [Int?](repeating: nil, count: tensors)
        for i in stride(from: n - 1, through: 0, by: -1) {
            let node = g.nodes[i]
            let reached = node.output.map { gradWritten[$0] } ?? true  // losses start the chain
            guard reached else { continue }
            runsBackward[i] = true
            for (k, t) in node.inputs.enumerated() {
                accumulate[i][k] = gradWritten[t]
                if !gradWritten[t] { gradFirstStep[t] = backwardStep(i) }
                gradWritten[t] = true
            }
        }

        // Value lifetimes.
        var valueEnd = [Int](repeating: -1, count: tensors)
        for (i, node) in g.nodes.enumerated() {
            for t in node.inputs {
                valueEnd[t] = max(valueEnd[t], forwardStep(i))
                if runsBackward[i] && node.op.backwardReadsInputs { valueEnd[t] = max(valueEnd[t], backwardStep(i)) }
            }
            if let o = node.output {
                valueEnd[o] = max(valueEnd[o], forwardStep(i))
                if runsBackward[i] && node.op.backwardReadsOutput { valueEnd[o] = max(valueEnd[o], backwardStep(i)) }
            }
        }
        for t in g.retained { valueEnd[t] = Int.max }

        // Walk the schedule, handing out slots.
        var free: [Int] = []
        var releaseAt: [Int: [Int]] = [:]  // step -> slots to free after it
        func acquire(_ bytes: Int) -> Int {
            if let k = free.indices.filter({ slotBytes[free[$0]] >= bytes }).min(by: { slotBytes[free[$0]] < slotBytes[free[$1]] }) {
                return free.remove(at: k)
            }
            slotBytes.append(bytes)
            return slotBytes.count - 1
        }
        func hold(_ slot: Int, until step: Int) {
            if step == Int.max { return }
            releaseAt[step, default: []].append(slot)
        }
        for step in 0..<(2 * n) {
            if step < n {
                let i = step, node = g.nodes[i]
                if let o = node.output {
                    let bytes = g.shapes[o].count * elementBytes
                    if node.op.canRunInPlace, node.inputs.count == 1, let s = valueSlot[node.inputs[0]],
                       valueEnd[node.inputs[0]] == step, slotBytes[s] >= bytes {
                        // Take over the input's slot: drop its pending release, hold it for the output.
                        releaseAt[step]?.removeAll { $0 == s }
                        valueSlot[o] = s
                    } else {
                        valueSlot[o] = acquire(bytes)
                    }
                    hold(valueSlot[o]!, until: max(valueEnd[o], step))
                }
            } else {
                let i = 2 * n - 1 - step, node = g.nodes[i]
                if runsBackward[i] {
                    let gradOutSlot = node.output.flatMap { gradSlot[$0] }
                    for (k, t) in node.inputs.enumerated() where !g.external.contains(t) && gradFirstStep[t] == step {
                        let bytes = g.shapes[t].count * elementBytes
                        let end = producer[t].map(backwardStep) ?? step
                        if node.op.canRunInPlace, !accumulate[i][k], let s = gradOutSlot, slotBytes[s] >= bytes {
                            releaseAt[step]?.removeAll { $0 == s }
                            gradSlot[t] = s
                        } else {
                            gradSlot[t] = acquire(bytes)
                        }
                        hold(gradSlot[t]!, until: end)
                    }
                    if let shape = node.op.backwardWorkspace {
                        workspaceSlot[i] = acquire(shape.count * elementBytes)
                        hold(workspaceSlot[i]!, until: step)
                    }
                }
            }
            free.append(contentsOf: releaseAt.removeValue(forKey: step) ?? [])
        }
    }
}
