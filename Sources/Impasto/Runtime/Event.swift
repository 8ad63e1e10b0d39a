import COpenCL

/// A queued command; with the queue's profiling on, it knows how long the device spent on it.
package final class Event: @unchecked Sendable {
    let handle: cl_event
    package let label: String

    init(_ handle: cl_event, label: String) {
        self.handle = handle
        self.label = label
    }

    deinit { clReleaseEvent(handle) }

    package func wait() throws {
        var e: cl_event? = handle
        try check(clWaitForEvents(1, &e), "clWaitForEvents(\(label))")
    }

    /// Device time from start to end of the command, in seconds (waits for it first).
    package func seconds() throws -> Double {
        try wait()
        let start = try profile(CL_PROFILING_COMMAND_START)
        let end = try profile(CL_PROFILING_COMMAND_END)
        return Double(end &- start) * 1e-9
    }

    private func profile(_ param: Int32) throws -> cl_ulong {
        var t: cl_ulong = 0
        try check(clGetEventProfilingInfo(handle, cl_profiling_info(param), MemoryLayout<cl_ulong>.size, &t, nil),
                  "clGetEventProfilingInfo(\(label))")
        return t
    }
}
