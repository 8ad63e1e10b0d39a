import COpenCL
import Foundation

/// One OpenCL device and the properties Impasto cares about, read once at discovery.
public struct Device: @unchecked Sendable {
    public let id: cl_device_id
    public let platformID: cl_platform_id
    /// Position in `Device.all()`, the number `--device` accepts.
    public let index: Int
    public let platformName: String
    public let platformVersion: String
    public let name: String
    public let vendor: String
    public let version: String
    public let driverVersion: String
    public let openCLCVersion: String
    public let type: cl_device_type
    public let computeUnits: Int
    public let clockMHz: Int
    public let globalMemBytes: UInt64
    public let localMemBytes: UInt64
    public let maxAllocBytes: UInt64
    public let maxWorkGroupSize: Int
    public let maxWorkItemSizes: [Int]
    public let extensions: String

    public var isGPU: Bool { type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 }
    public var isCPU: Bool { type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 }
    public var hasFP16: Bool { extensions.contains("cl_khr_fp16") }
    public var hasFP64: Bool { extensions.contains("cl_khr_fp64") }

    public var typeName: String {
        if isGPU { return "GPU" }
        if isCPU { return "CPU" }
        if type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 { return "accelerator" }
        return "other"
    }

    /// A stable key for caches: which device, which driver.
    public var cacheKey: String { "\(platformName)|\(name)|\(version)|\(driverVersion)" }

    init(id: cl_device_id, platform: cl_platform_id, index: Int) throws {
        self.id = id
        self.platformID = platform
        self.index = index
        platformName = try platformString(platform, CL_PLATFORM_NAME)
        platformVersion = try platformString(platform, CL_PLATFORM_VERSION)
        name = try deviceString(id, CL_DEVICE_NAME)
        vendor = try deviceString(id, CL_DEVICE_VENDOR)
        version = try deviceString(id, CL_DEVICE_VERSION)
        driverVersion = try deviceString(id, CL_DRIVER_VERSION)
        openCLCVersion = try deviceString(id, CL_DEVICE_OPENCL_C_VERSION)
        extensions = try deviceString(id, CL_DEVICE_EXTENSIONS)
        type = try deviceValue(id, CL_DEVICE_TYPE, cl_device_type.self)
        computeUnits = Int(try deviceValue(id, CL_DEVICE_MAX_COMPUTE_UNITS, cl_uint.self))
        clockMHz = Int(try deviceValue(id, CL_DEVICE_MAX_CLOCK_FREQUENCY, cl_uint.self))
        globalMemBytes = try deviceValue(id, CL_DEVICE_GLOBAL_MEM_SIZE, cl_ulong.self)
        localMemBytes = try deviceValue(id, CL_DEVICE_LOCAL_MEM_SIZE, cl_ulong.self)
        maxAllocBytes = try deviceValue(id, CL_DEVICE_MAX_MEM_ALLOC_SIZE, cl_ulong.self)
        maxWorkGroupSize = Int(try deviceValue(id, CL_DEVICE_MAX_WORK_GROUP_SIZE, Int.self))
        let dims = Int(try deviceValue(id, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS, cl_uint.self))
        var sizes = [Int](repeating: 0, count: dims)
        try check(clGetDeviceInfo(id, cl_device_info(CL_DEVICE_MAX_WORK_ITEM_SIZES),
                                  dims * MemoryLayout<Int>.size, &sizes, nil),
                  "clGetDeviceInfo(CL_DEVICE_MAX_WORK_ITEM_SIZES)")
        maxWorkItemSizes = sizes
    }

    /// Every device of every platform, in a stable order (platform by platform).
    /// Throws `NoOpenCL` when no driver is installed.
    public static func all() throws -> [Device] {
        var count: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &count)
        if status == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (status == CL_SUCCESS && count == 0) {
            throw NoOpenCL()
        }
        try check(status, "clGetPlatformIDs")
        var platforms = [cl_platform_id?](repeating: nil, count: Int(count))
        try check(clGetPlatformIDs(count, &platforms, nil), "clGetPlatformIDs")
        var devices: [Device] = []
        for case let platform? in platforms {
            var n: cl_uint = 0
            let s = clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &n)
            if s == CL_DEVICE_NOT_FOUND || n == 0 { continue }
            try check(s, "clGetDeviceIDs")
            var ids = [cl_device_id?](repeating: nil, count: Int(n))
            try check(clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), n, &ids, nil), "clGetDeviceIDs")
            for case let id? in ids {
                devices.append(try Device(id: id, platform: platform, index: devices.count))
            }
        }
        if devices.isEmpty { throw NoOpenCL() }
        return devices
    }

    /// The device used when none is named: a GPU before anything else, then the most
    /// compute units × clock. A device that reports no clock (Intel's CPU runtime says 0 MHz)
    /// is ranked with the fastest clock the others report, not last; ties keep the first.
    public static func preferred(among devices: [Device]) -> Device? {
        let knownClock = max(devices.map(\.clockMHz).max() ?? 1, 1)
        func score(_ d: Device) -> Int { d.computeUnits * (d.clockMHz > 0 ? d.clockMHz : knownClock) }
        return devices.reduce(nil as Device?) { best, d in
            guard let best else { return d }
            if best.isGPU != d.isGPU { return d.isGPU ? d : best }
            return score(d) > score(best) ? d : best
        }
    }

    /// Picks a device by `--device` / `IMPASTO_DEVICE`: an index, `gpu` or `cpu` (the preferred
    /// device of that type), or a case-insensitive substring of the device or platform name.
    /// `nil` picks the preferred device.
    /// A batch's workers: every device (`all`), or those a comma-separated list of selectors
    /// names (each once); without a list, the one `selector` names.
    public static func select(list: String?, else selector: String?) throws -> [Device] {
        let all = try Device.all()
        guard let list else { return [try select(selector, among: all)] }
        if list == "all" { return all }
        var picked: [Device] = []
        for part in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard !part.isEmpty else { throw SettingError("devices", "'\(list)': give 'all' or a comma-separated list of devices, none empty") }
            let d = try select(String(part), among: all)
            if !picked.contains(where: { $0.index == d.index }) { picked.append(d) }
        }
        return picked
    }

    public static func select(_ selector: String?, among devices: [Device]) throws -> Device {
        guard let selector = selector?.trimmingCharacters(in: .whitespaces), !selector.isEmpty else {
            guard let best = preferred(among: devices) else { throw NoOpenCL() }
            return best
        }
        if let index = Int(selector) {
            if devices.indices.contains(index) { return devices[index] }
        } else {
            let needle = selector.lowercased()
            if needle == "gpu" || needle == "cpu" {
                if let d = preferred(among: devices.filter { needle == "gpu" ? $0.isGPU : !$0.isGPU }) { return d }
                throw UnknownDevice(selector: selector, devices: devices)
            }
            if let d = devices.first(where: { $0.name.lowercased().contains(needle) }) { return d }
            if let d = devices.first(where: { $0.platformName.lowercased().contains(needle) }) { return d }
        }
        throw UnknownDevice(selector: selector, devices: devices)
    }
}

/// No OpenCL platform at all: says what to install.
public struct NoOpenCL: Error, CustomStringConvertible {
    public var description: String {
        // POCL lists no device when it cannot make its kernel cache (under the same
        // XDG_CACHE_HOME): say that, not "install".
        let base = RuntimeSettings.fromEnvironment().cacheDirectory.deletingLastPathComponent().path
        if let problem = CacheDirectory.problem(base) {
            return "no OpenCL device could start: the cache directory \(InputFile.display(base)) is unusable (\(problem)); "
                + "drivers such as POCL keep compiled kernels there: set XDG_CACHE_HOME to a writable directory"
        }
        return "no OpenCL device found: install a GPU driver's OpenCL ICD, or `pocl-opencl-icd` for the CPU "
            + "(Debian/Ubuntu: apt-get install pocl-opencl-icd)"
    }
}

/// `--device` named nothing that exists.
public struct UnknownDevice: Error, CustomStringConvertible {
    public let selector: String
    public let devices: [Device]
    public var description: String {
        let choices = devices.map { "\($0.index): \($0.name)" }.joined(separator: ", ")
        return "unknown device '\(InputFile.display(selector))'; choices are \(choices)"
    }
}

// MARK: - clGet*Info helpers

private func deviceString(_ id: cl_device_id, _ param: Int32) throws -> String {
    try infoString("clGetDeviceInfo") { clGetDeviceInfo(id, cl_device_info(param), $0, $1, $2) }
}

private func platformString(_ id: cl_platform_id, _ param: Int32) throws -> String {
    try infoString("clGetPlatformInfo") { clGetPlatformInfo(id, cl_platform_info(param), $0, $1, $2) }
}

private func deviceValue<T>(_ id: cl_device_id, _ param: Int32, _: T.Type) throws -> T {
    let p = UnsafeMutablePointer<T>.allocate(capacity: 1)
    defer { p.deallocate() }
    try check(clGetDeviceInfo(id, cl_device_info(param), MemoryLayout<T>.size, p, nil), "clGetDeviceInfo(\(param))")
    return p.pointee
}

func infoString(_ call: String, _ get: (Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> cl_int) throws -> String {
    var size = 0
    try check(get(0, nil, &size), call)
    var bytes = [CChar](repeating: 0, count: size + 1)
    try check(get(size, &bytes, nil), call)
    return String(cString: bytes).trimmingCharacters(in: .whitespacesAndNewlines)
}
