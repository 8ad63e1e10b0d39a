import COpenCL
import Foundation

/// A program built from OpenCL C source for one device. A failed build throws a `CLError`
/// whose detail is the compiler's whole log.
package final class Program: @unchecked Sendable {
    let handle: cl_program
    let name: String
    unowned let context: CLContext

    /// Options every build gets: fp32 contractions allowed, but no fast-relaxed math (it breaks
    /// NaN/Inf handling on POCL), and argument info so kernels can check what they are given.
    static func options(defines: [String: String]) -> String {
        let d = defines.sorted { $0.key < $1.key }.map { "-D\($0.key)=\($0.value)" }
        return (["-cl-std=CL1.2", "-cl-mad-enable", "-cl-kernel-arg-info"] + d).joined(separator: " ")
    }

    /// Whether this program came from `ProgramCache` rather than from source.
    package let fromCache: Bool

    package init(context: CLContext, source: String, name: String, options: String) throws {
        self.context = context
        self.name = name
        let directory = context.settings.programDirectory
        let cacheKey = ProgramCache.enabled(for: context.device, settings: context.settings)
            ? ProgramCache.key(source: source, options: options, device: context.device) : nil
        if let cacheKey, let binary = ProgramCache.load(cacheKey, from: directory), let cached = Self.fromBinary(binary, context: context, options: options) {
            handle = cached
            fromCache = true
            return
        }
        var status: cl_int = 0
        let created: cl_program? = source.withCString { src in
            var ptr: UnsafePointer<CChar>? = src
            return clCreateProgramWithSource(context.context, 1, &ptr, nil, &status)
        }
        guard let program = created else { throw CLError(status, "clCreateProgramWithSource(\(name))") }
        handle = program
        fromCache = false
        var device: cl_device_id? = context.device.id
        let built = clBuildProgram(program, 1, &device, options, nil, nil)
        if built != CL_SUCCESS {
            let log = (try? buildLog()) ?? "(no build log)"
            throw CLError(built, "clBuildProgram(\(name).cl)", detail: log)
        }
        if let cacheKey, let binary = binary() { ProgramCache.store(binary, key: cacheKey, in: directory) }
    }

    /// A program built from a cached binary, or nil when the driver refuses it (another
    /// version wrote it, the file is damaged): the caller compiles the source instead.
    private static func fromBinary(_ binary: Data, context: CLContext, options: String) -> cl_program? {
        var device: cl_device_id? = context.device.id
        var status: cl_int = 0, binaryStatus: cl_int = 0
        let program: cl_program? = binary.withUnsafeBytes { raw in
            var length = raw.count
            var ptr: UnsafePointer<UInt8>? = raw.bindMemory(to: UInt8.self).baseAddress
            return clCreateProgramWithBinary(context.context, 1, &device, &length, &ptr, &binaryStatus, &status)
        }
        guard let program, status == CL_SUCCESS, binaryStatus == CL_SUCCESS else {
            if let program { clReleaseProgram(program) }
            return nil
        }
        guard clBuildProgram(program, 1, &device, options, nil, nil) == CL_SUCCESS else {
            clReleaseProgram(program)
            return nil
        }
        return program
    }

    /// The device binary of this program (one device), or nil if the driver gives none.
    private func binary() -> Data? {
        var size = 0
        guard clGetProgramInfo(handle, cl_program_info(CL_PROGRAM_BINARY_SIZES), MemoryLayout<Int>.size, &size, nil) == CL_SUCCESS,
              size > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: size)
        let ok = bytes.withUnsafeMutableBufferPointer { buf -> Bool in
            var ptr: UnsafeMutablePointer<UInt8>? = buf.baseAddress
            return clGetProgramInfo(handle, cl_program_info(CL_PROGRAM_BINARIES), MemoryLayout<UnsafeMutablePointer<UInt8>?>.size, &ptr, nil) == CL_SUCCESS
        }
        return ok ? Data(bytes) : nil
    }

    deinit { clReleaseProgram(handle) }

    func buildLog() throws -> String {
        try infoString("clGetProgramBuildInfo") {
            clGetProgramBuildInfo(handle, context.device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), $0, $1, $2)
        }
    }

    package func kernel(_ kernelName: String) throws -> Kernel {
        try Kernel(program: self, name: kernelName)
    }
}
