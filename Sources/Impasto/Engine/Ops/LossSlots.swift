/// The loss vector: one float per loss term, filled on the device by the loss ops and read
/// back once per iteration; and the partial-sum scratch their reductions share (the ops run
/// one after another on one queue).
package final class LossSlots {
    package let buffer: Buffer
    let partials: Buffer
    package private(set) var names: [String] = []
    let capacity: Int

    package init(context: CLContext, capacity: Int = 32) throws {
        self.capacity = capacity
        buffer = try context.buffer([Float](repeating: 0, count: capacity))
        partials = try context.buffer(floats: Kernels.partialCount)
    }

    func claim(_ name: String) -> Int {
        precondition(names.count < capacity, "too many loss terms")
        names.append(name)
        return names.count - 1
    }

    package func read() throws -> [Float] { try buffer.read(count: names.count) }
}
