import COpenCL

/// A queued command; when its context was recording events (`CLContext.recordingEvents`),
/// it knows how long the device spent on it. Outside a recording, launches create no OpenCL
/// event at all (each costs the driver an allocation and bookkeeping), and `seconds` throws.
package final class Event: @unchecked Sendable {
    let handle: cl_event?
    package let label: String

    init(_ handle: cl_event?, label: String) {
        self.handle = handle
        self.label = label
    }

    deinit { if let handle { clReleaseEvent(handle) } }

    /// Waits for the command (a command without an event: nothing to wait for here).
    package func wait() throws {
        guard var e: cl_event? = handle else { return }
        try check(clWaitForEvents(1, &e), "clWaitForEvents(\(label))")
    }

    /// Device time from start to end of the command, in seconds (waits for it first).
    package func seconds() throws -> Double {
        guard handle != nil else {
            throw CLError(CL_INVALID_EVENT, "event \(label)", detail: "launched outside CLContext.recordingEvents, so it was not recorded")
        }
        try wait()
        let start = try profile(CL_PROFILING_COMMAND_START)
        let end = try profile(CL_PROFILING_COMMAND_END)
        return Double(end &- start) * 1e-9
    }

    private func profile(_ param: Int32) throws -> cl_ulong {
        var t: cl_ulong = 0
        try check(clGetEventProfilingInfo(handle!, cl_profiling_info(param), MemoryLayout<cl_ulong>.size, &t, nil),
                  "clGetEventProfilingInfo(\(label))")
        return t
    }
}
