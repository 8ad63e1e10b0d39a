import COpenCL
import Foundation

/// A value a kernel argument can take. Each case is checked against the kernel's declared
/// parameter type (from `-cl-kernel-arg-info`) so a float cannot land in an int slot.
package enum KernelArg {
    case buffer(Buffer)
    case int(Int32)
    case uint(UInt32)
    case float(Float)
    /// `__local` scratch of this many bytes.
    case local(Int)

    /// The argument's kind, for `Kernel`'s check-once cache of signatures.
    var kind: UInt8 {
        switch self {
        case .buffer: return 0
        case .int: return 1
        case .uint: return 2
        case .float: return 3
        case .local: return 4
        }
    }

    var expectedType: String {
        switch self {
        case .buffer: return "pointer"
        case .int: return "int"
        case .uint: return "uint"
        case .float: return "float"
        case .local: return "local pointer"
        }
    }
}

/// Shorthands so launches read like calls: `k.launch(.buffer(x), .int(n), ...)`.
extension KernelArg {
    package static func i(_ v: Int) -> KernelArg { .int(Int32(v)) }
    package static func f(_ v: Float) -> KernelArg { .float(v) }
    package static func b(_ v: Buffer) -> KernelArg { .buffer(v) }
}

/// One `__kernel` function of a built program.
package final class Kernel: @unchecked Sendable {
    let handle: cl_kernel
    package let name: String
    let program: Program
    /// Declared parameters: (type name, is __local), when the driver reports them
    /// (some do not; the argument count is still checked).
    private let params: [(type: String, local: Bool)]?
    /// The file and definitions it was built from (to build a variant: `Kernels.storing`).
    var origin: (file: String, defines: [String: String]) = ("", [:])
    /// CL_KERNEL_WORK_GROUP_SIZE: the largest local size this kernel may use on its device.
    package let maxWorkGroupSize: Int

    init(program: Program, name: String) throws {
        self.program = program
        self.name = name
        var status: cl_int = 0
        guard let k = clCreateKernel(program.handle, name, &status) else {
            throw CLError(status, "clCreateKernel(\(name))")
        }
        handle = k
        var argc: cl_uint = 0
        try check(clGetKernelInfo(k, cl_kernel_info(CL_KERNEL_NUM_ARGS), MemoryLayout<cl_uint>.size, &argc, nil),
                  "clGetKernelInfo(\(name))")
        var parsed: [(String, Bool)]? = []
        for i in 0..<argc {
            let type = try? infoString("clGetKernelArgInfo") {
                clGetKernelArgInfo(k, i, cl_kernel_arg_info(CL_KERNEL_ARG_TYPE_NAME), $0, $1, $2)
            }
            var qualifier: cl_kernel_arg_address_qualifier = 0
            let q = clGetKernelArgInfo(k, i, cl_kernel_arg_info(CL_KERNEL_ARG_ADDRESS_QUALIFIER),
                                       MemoryLayout.size(ofValue: qualifier), &qualifier, nil)
            guard let type, q == CL_SUCCESS else { parsed = nil; break }
            parsed?.append((type, qualifier == cl_kernel_arg_address_qualifier(CL_KERNEL_ARG_ADDRESS_LOCAL)))
        }
        params = parsed?.map { (type: $0.0, local: $0.1) }
        var wg = 0
        try check(clGetKernelWorkGroupInfo(k, program.context.device.id, cl_kernel_work_group_info(CL_KERNEL_WORK_GROUP_SIZE),
                                           MemoryLayout<Int>.size, &wg, nil), "clGetKernelWorkGroupInfo(\(name))")
        maxWorkGroupSize = max(1, wg)
        argCount = Int(argc)
    }

    private let argCount: Int
    /// The argument kinds already checked against `params`: a signature is checked once, not
    /// at every launch (a kernel object is used by one thread at a time, as OpenCL requires
    /// for clSetKernelArg).
    private var checkedSignatures: Set<[UInt8]> = []

    deinit { clReleaseKernel(handle) }

    /// Sets all arguments at once, checking count and types.
    package func set(_ args: [KernelArg]) throws {
        guard args.count == argCount else {
            throw CLError(CL_INVALID_KERNEL_ARGS, "kernel \(name)", detail: "takes \(argCount) arguments, given \(args.count)")
        }
        let signature = args.map(\.kind)
        let unchecked = params != nil && !checkedSignatures.contains(signature)
        for (i, arg) in args.enumerated() {
            if unchecked, let params {
                let p = params[i]
                let ok: Bool
                switch arg {
                case .buffer: ok = p.type.hasSuffix("*") && !p.local
                case .local: ok = p.type.hasSuffix("*") && p.local
                case .int: ok = p.type == "int"
                case .uint: ok = p.type == "uint"
                case .float: ok = p.type == "float"
                }
                guard ok else {
                    throw CLError(CL_INVALID_ARG_VALUE, "kernel \(name)",
                                  detail: "argument \(i) is declared \(p.local ? "__local " : "")\(p.type), given \(arg.expectedType)")
                }
            }
            let index = cl_uint(i)
            let status: cl_int
            switch arg {
            case .buffer(let b):
                precondition(!b.isReserved, "\(name): a reserved buffer cannot be run before it is allocated")
                var mem: cl_mem? = b.handle
                status = clSetKernelArg(handle, index, MemoryLayout<cl_mem>.size, &mem)
            case .int(var v): status = clSetKernelArg(handle, index, 4, &v)
            case .uint(var v): status = clSetKernelArg(handle, index, 4, &v)
            case .float(var v): status = clSetKernelArg(handle, index, 4, &v)
            case .local(let bytes): status = clSetKernelArg(handle, index, bytes, nil)
            }
            try check(status, "clSetKernelArg(\(name), \(i))")
        }
        if unchecked { checkedSignatures.insert(signature) }
    }

    /// Enqueues the kernel over `global` work-items in groups of `local`. The global size is
    /// padded up to a multiple of the local size: kernels check their own bounds.
    @discardableResult
    package func launch(global: [Int], local: [Int], _ args: KernelArg...) throws -> Event {
        try set(args)
        return try enqueue(global: global, local: local)
    }

    @discardableResult
    package func enqueue(global: [Int], local: [Int]) throws -> Event {
        precondition(global.count == local.count && (1...3).contains(global.count), "bad NDRange for \(name)")
        let padded = zip(global, local).map { g, l in (max(g, 1) + l - 1) / l * l }
        var event: cl_event?
        let records = program.context.recordsEvents
        let status = padded.withUnsafeBufferPointer { g in
            local.withUnsafeBufferPointer { l in
                withUnsafeMutablePointer(to: &event) { e in
                    clEnqueueNDRangeKernel(program.context.queue, handle, cl_uint(g.count), nil, g.baseAddress, l.baseAddress,
                                           0, nil, records ? e : nil)
                }
            }
        }
        try check(status, "clEnqueueNDRangeKernel(\(name), global \(padded), local \(local))")
        return Event(event, label: name)
    }
}
