import COpenCL
import Foundation

/// Device memory. Reads and writes are blocking so a host array is never used while the
/// device still reads it; the queue is in order, so kernels before them have finished.
public final class Buffer: @unchecked Sendable {
    let handle: cl_mem
    public let bytes: Int
    /// Strong: a buffer released after its last user lets go of the context still reports to it.
    let context: CLContext
    /// Made inside `CLContext.measure`: only counted; its handle is a 4-byte placeholder.
    let dry: Bool

    public var floatCount: Int { bytes / MemoryLayout<Float>.size }

    init(context: CLContext, bytes: Int) throws {
        self.context = context
        self.bytes = bytes
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

    /// IMPASTO_KEEP_BUFFERS=1 never releases device memory: oclgrind (21.10) loses track of
    /// which bytes are initialised when a released buffer's slot is reused, and reports
    /// false errors. Only its test run sets this.
    private static let keepReleased = ProcessInfo.processInfo.environment["IMPASTO_KEEP_BUFFERS"] == "1"

    deinit {
        if !dry { context.noteBufferReleased(bytes: bytes) }
        if !Buffer.keepReleased { clReleaseMemObject(handle) }
    }

    public func write(_ values: [Float], at offset: Int = 0) throws {
        precondition((offset + values.count) * 4 <= bytes, "write past the end of a \(bytes)-byte buffer")
        if dry { return }
        try values.withUnsafeBytes { raw in
            try check(clEnqueueWriteBuffer(context.queue, handle, cl_bool(CL_TRUE), offset * 4, raw.count, raw.baseAddress, 0, nil, nil),
                      "clEnqueueWriteBuffer")
        }
    }

    public func read(count: Int? = nil, at offset: Int = 0) throws -> [Float] {
        precondition(!dry, "a measured buffer cannot be read")
        let n = count ?? (floatCount - offset)
        precondition((offset + n) * 4 <= bytes, "read past the end of a \(bytes)-byte buffer")
        var out = [Float](repeating: 0, count: n)
        try out.withUnsafeMutableBytes { raw in
            try check(clEnqueueReadBuffer(context.queue, handle, cl_bool(CL_TRUE), offset * 4, raw.count, raw.baseAddress, 0, nil, nil),
                      "clEnqueueReadBuffer")
        }
        return out
    }

    /// Copies all of `source` (or `count` floats) into this buffer on the device.
    public func copy(from source: Buffer, count: Int? = nil) throws {
        precondition(!dry && !source.dry, "a measured buffer cannot be copied")
        let n = (count ?? source.floatCount) * 4
        precondition(n <= bytes && n <= source.bytes, "copy larger than a buffer")
        try check(clEnqueueCopyBuffer(context.queue, source.handle, handle, 0, 0, n, 0, nil, nil), "clEnqueueCopyBuffer")
    }

    /// Sets every float (or the first `count`) to `value`, with `cl/fill.cl`.
    /// This buffer, filled with zeros on the device.
    public func zeroed() throws -> Buffer { try fill(0); return self }

    public func fill(_ value: Float, count: Int? = nil) throws {
        if dry { return }
        let n = count ?? floatCount
        precondition(n <= floatCount, "fill past the end of a \(bytes)-byte buffer")
        let k = try context.kernel("fill", "fill_float")
        try k.launch(global: [n], local: [min(64, k.maxWorkGroupSize)], .b(self), .i(n), .f(value))
    }
}
