import COpenCL
import Foundation

/// How a buffer's elements are stored: fp32, or fp16 (`--storage fp16`: activations and
/// gradients; kernels convert on load and store, arithmetic stays fp32).
public enum Storage: String, CaseIterable, Codable, Sendable {
    case fp32, fp16
    package var bytes: Int { self == .fp32 ? 4 : 2 }
}

/// Device memory. Reads and writes are blocking so a host array is never used while the
/// device still reads it; the queue is in order, so kernels before them have finished.
/// An fp16 buffer is read and written as floats too (rounded to nearest even on the way in).
package final class Buffer: @unchecked Sendable {
    private(set) var handle: cl_mem
    package let bytes: Int
    package let storage: Storage
    package var isHalf: Bool { storage == .fp16 }
    /// Strong: a buffer released after its last user lets go of the context still reports to it.
    let context: CLContext
    /// Made inside `CLContext.reserve` and not allocated yet: counted, its handle a 4-byte
    /// placeholder, its writes and fills kept in `deferred` until `allocate`.
    private(set) var isReserved: Bool
    private var deferred: [(Buffer) throws -> Void] = []

    /// Elements (floats, or halves: an fp16 buffer's bytes are rounded up to whole floats).
    package let floatCount: Int

    init(context: CLContext, bytes: Int, storage: Storage = .fp32, count: Int? = nil) throws {
        self.context = context
        self.bytes = bytes
        self.storage = storage
        floatCount = count ?? bytes / storage.bytes
        let reservation = context.reservation
        isReserved = reservation != nil
        handle = try Self.create(context, bytes: isReserved ? 4 : bytes)
        if let reservation { reservation.add(self) } else { context.noteBufferCreated(bytes: bytes) }
    }

    private static func create(_ context: CLContext, bytes: Int) throws -> cl_mem {
        var status: cl_int = 0
        guard let mem = clCreateBuffer(context.context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &status) else {
            throw CLError(status, "clCreateBuffer(\(bytes) bytes)")
        }
        try check(status, "clCreateBuffer(\(bytes) bytes)")
        return mem
    }

    /// A reserved buffer made real: its memory, then the writes and fills made meanwhile, in
    /// order. Nothing to do for one that is real already.
    func allocate() throws {
        guard isReserved else { return }
        let mem = try Self.create(context, bytes: bytes)
        if !context.keepsReleasedBuffers { clReleaseMemObject(handle) }  // the placeholder
        handle = mem
        isReserved = false
        context.noteBufferCreated(bytes: bytes)
        let pending = deferred
        deferred = []
        for apply in pending { try apply(self) }
    }

    deinit {
        if !isReserved { context.noteBufferReleased(bytes: bytes) }
        if !context.keepsReleasedBuffers { clReleaseMemObject(handle) }  // see RuntimeSettings, DriverQuirks
    }

    package func write(_ values: [Float], at offset: Int = 0) throws {
        if isHalf { return try writeBytes(values.map { Float16($0) }, at: offset) }
        try writeBytes(values, at: offset)
    }

    /// 32-bit integers (index tables for kernels) into a buffer of 4-byte elements.
    package func write(int32 values: [Int32]) throws {
        precondition(!isHalf, "integers go into 4-byte elements")
        try writeBytes(values, at: 0)
    }

    private func writeBytes<T>(_ values: [T], at offset: Int) throws {
        let size = storage.bytes
        precondition((offset + values.count) * size <= bytes, "write past the end of a \(bytes)-byte buffer")
        if isReserved { deferred.append { try $0.writeBytes(values, at: offset) }; return }
        try values.withUnsafeBytes { raw in
            try check(clEnqueueWriteBuffer(context.queue, handle, cl_bool(CL_TRUE), offset * size, raw.count, raw.baseAddress, 0, nil, nil),
                      "clEnqueueWriteBuffer")
        }
    }

    package func read(count: Int? = nil, at offset: Int = 0) throws -> [Float] {
        let n = count ?? (floatCount - offset)
        if isHalf { return try readBytes(Float16(0), count: n, at: offset).map(Float.init) }
        return try readBytes(Float(0), count: n, at: offset)
    }

    private func readBytes<T>(_ zero: T, count n: Int, at offset: Int) throws -> [T] {
        precondition(!isReserved, "a reserved buffer cannot be read before it is allocated")
        let size = storage.bytes
        precondition((offset + n) * size <= bytes, "read past the end of a \(bytes)-byte buffer")
        var out = [T](repeating: zero, count: n)
        context.noteBlockingRead()
        try out.withUnsafeMutableBytes { raw in
            try check(clEnqueueReadBuffer(context.queue, handle, cl_bool(CL_TRUE), offset * size, raw.count, raw.baseAddress, 0, nil, nil),
                      "clEnqueueReadBuffer")
        }
        return out
    }

    /// Copies all of `source` (or `count` elements) into this buffer on the device; both
    /// store their elements alike.
    package func copy(from source: Buffer, count: Int? = nil) throws {
        precondition(!isReserved && !source.isReserved, "a reserved buffer cannot be copied before it is allocated")
        precondition(storage == source.storage, "copy between \(source.storage) and \(storage) buffers")
        let n = (count ?? source.floatCount) * storage.bytes
        precondition(n <= bytes && n <= source.bytes, "copy larger than a buffer")
        try check(clEnqueueCopyBuffer(context.queue, source.handle, handle, 0, 0, n, 0, nil, nil), "clEnqueueCopyBuffer")
    }

    /// Sets every float (or the first `count`) to `value`, with `cl/fill.cl`.
    /// This buffer, filled with zeros on the device.
    package func zeroed() throws -> Buffer { try fill(0); return self }

    package func fill(_ value: Float, count: Int? = nil) throws {
        if isReserved { deferred.append { try $0.fill(value, count: count) }; return }
        precondition(!isHalf || value == 0, "an fp16 buffer is only filled with zeros")
        // fp16: zero is all-zero bits, so the halves are filled as floats (one for two).
        let n = isHalf ? (count ?? floatCount).divRoundUp(2) : count ?? floatCount
        precondition(n * 4 <= bytes.roundedUp(to: 4), "fill past the end of a \(bytes)-byte buffer")
        let k = try context.kernel("fill", "fill_float")
        try k.launch(global: [n], local: [min(64, k.maxWorkGroupSize)], .b(self), .i(n), .f(value))
    }
}
