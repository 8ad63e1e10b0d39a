import COpenCL
import Foundation

/// A program built from OpenCL C source for one device. A failed build throws a `CLError`
/// whose detail is the compiler's whole log.
public final class Program: @unchecked Sendable {
    let handle: cl_program
    let name: String
    unowned let context: CLContext

    /// Options every build gets: fp32 contractions allowed, but no fast-relaxed math (it breaks
    /// NaN/Inf handling on POCL), and argument info so kernels can check what they are given.
    static func options(defines: [String: String]) -> String {
        let d = defines.sorted { $0.key < $1.key }.map { "-D\($0.key)=\($0.value)" }
        return (["-cl-std=CL1.2", "-cl-mad-enable", "-cl-kernel-arg-info"] + d).joined(separator: " ")
    }

    public init(context: CLContext, source: String, name: String, options: String) throws {
        self.context = context
        self.name = name
        var status: cl_int = 0
        let created: cl_program? = source.withCString { src in
            var ptr: UnsafePointer<CChar>? = src
            return clCreateProgramWithSource(context.context, 1, &ptr, nil, &status)
        }
        guard let program = created else { throw CLError(status, "clCreateProgramWithSource(\(name))") }
        handle = program
        var device: cl_device_id? = context.device.id
        let built = clBuildProgram(program, 1, &device, options, nil, nil)
        if built != CL_SUCCESS {
            let log = (try? buildLog()) ?? "(no build log)"
            throw CLError(built, "clBuildProgram(\(name).cl)", detail: log)
        }
    }

    deinit { clReleaseProgram(handle) }

    func buildLog() throws -> String {
        try infoString("clGetProgramBuildInfo") {
            clGetProgramBuildInfo(handle, context.device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), $0, $1, $2)
        }
    }

    public func kernel(_ kernelName: String) throws -> Kernel {
        try Kernel(program: self, name: kernelName)
    }
}
