import COpenCL

/// A device-to-host copy enqueued without blocking: the host goes on enqueueing work and
/// waits only when it needs the values (`wait`). The queue is flushed so the copy and what
/// precedes it start now. The host memory lives as long as this object.
package final class PendingRead: @unchecked Sendable {
    private let values: UnsafeMutableBufferPointer<Float>
    private let count: Int
    private let event: Event

    init(_ buffer: Buffer, count: Int) throws {
        precondition(!buffer.isReserved, "a reserved buffer cannot be read before it is allocated")
        precondition(!buffer.isHalf && count * 4 <= buffer.bytes, "a pending read takes fp32 elements within the buffer")
        values = .allocate(capacity: max(count, 1))
        values.initialize(repeating: 0)
        var e: cl_event?
        let status = clEnqueueReadBuffer(buffer.context.queue, buffer.handle, cl_bool(CL_FALSE), 0, count * 4,
                                         values.baseAddress, 0, nil, &e)
        guard status == CL_SUCCESS, let e else {
            values.deallocate()
            throw CLError(status, "clEnqueueReadBuffer (non-blocking)")
        }
        event = Event(e, label: "read")
        self.count = count
        try check(clFlush(buffer.context.queue), "clFlush")
    }

    deinit {
        // The copy must be over before its destination is freed.
        try? event.wait()
        values.deallocate()
    }

    /// The values, once the copy is done.
    package func wait() throws -> [Float] {
        try event.wait()
        return Array(values.prefix(count))
    }
}

/// An iteration's loss terms, still being read from the device (or already known).
package final class PendingLosses {
    private let reads: [PendingRead]
    private let terms: ([[Float]]) throws -> LossTerms

    /// The terms `terms` makes of the values of `reads`, in order.
    init(_ reads: [PendingRead], terms: @escaping ([[Float]]) throws -> LossTerms) {
        self.reads = reads
        self.terms = terms
    }

    /// Terms known already (an objective that reads them as it goes).
    static func ready(_ t: LossTerms) -> PendingLosses { PendingLosses([]) { _ in t } }

    /// Waits for the reads and returns the terms.
    func wait() throws -> LossTerms { try terms(try reads.map { try $0.wait() }) }
}

extension Buffer {
    /// The first `count` floats, read without blocking (see `PendingRead`).
    package func readLater(count: Int) throws -> PendingRead { try PendingRead(self, count: count) }
}
