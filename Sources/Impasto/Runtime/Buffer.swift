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
    let handle: cl_mem
    package let bytes: Int
    package let storage: Storage
    package var isHalf: Bool { storage == .fp16 }
    /// Strong: a buffer released after its last user lets go of the context still reports to it.
    let context: CLContext
    /// Made inside `CLContext.measure`: only counted; its handle is a 4-byte placeholder.
    let dry: Bool

    /// Elements (floats, or halves: an fp16 buffer's bytes are rounded up to whole floats).
    package let floatCount: Int

    init(context: CLContext, bytes: Int, storage: Storage = .fp32, count: Int? = nil) throws {
        self.context = context
        self.bytes = bytes
        self.storage = storage
        floatCount = count ?? bytes / storage.bytes
        dry = context.countDry(bytes: bytes)
        let real = dry ? 4 : bytes
        var status: cl_int = 0
        guard let mem = clCreateBuffer(context.context, cl_mem_flags(CL_MEM_READ_WRITE), real, nil, &status) else {
            throw CLError(status, "clCreateBuffer(\(bytes) bytes)")
        }
        try check(status, "clCreateBuffer(\(bytes) bytes)")
        handle = mem
        if !dry { context.noteBufferCreated(bytes: bytes) }
    }

    deinit {
        if !dry { context.noteBufferReleased(bytes: bytes) }
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
        if dry { return }
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
        precondition(!dry, "a measured buffer cannot be read")
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
        precondition(!dry && !source.dry, "a measured buffer cannot be copied")
        precondition(storage == source.storage, "copy between \(source.storage) and \(storage) buffers")
        let n = (count ?? source.floatCount) * storage.bytes
        precondition(n <= bytes && n <= source.bytes, "copy larger than a buffer")
        try check(clEnqueueCopyBuffer(context.queue, source.handle, handle, 0, 0, n, 0, nil, nil), "clEnqueueCopyBuffer")
    }

    /// Sets every float (or the first `count`) to `value`, with `cl/fill.cl`.
    /// This buffer, filled with zeros on the device.
    package func zeroed() throws -> Buffer { try fill(0); return self }

    package func fill(_ value: Float, count: Int? = nil) throws {
        if dry { return }
        precondition(!isHalf || value == 0, "an fp16 buffer is only filled with zeros")
        // fp16: zero is all-zero bits, so the halves are filled as floats (one for two).
        let n = isHalf ? (count ?? floatCount).divRoundUp(2) : count ?? floatCount
        precondition(n * 4 <= bytes.roundedUp(to: 4), "fill past the end of a \(bytes)-byte buffer")
        let k = try context.kernel("fill", "fill_float")
        try k.launch(global: [n], local: [min(64, k.maxWorkGroupSize)], .b(self), .i(n), .f(value))
    }
}
