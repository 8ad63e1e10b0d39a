import COpenCL
import Foundation

/// A device with its context and one in-order, profiling queue: everything else is created from it.
public final class CLContext: @unchecked Sendable {
    public let device: Device
    let context: cl_context
    let queue: cl_command_queue
    private var programs: [String: Program] = [:]
    private let lock = NSLock()
    /// Device buffers created so far: lets a test prove an iteration allocates nothing.
    public private(set) var buffersCreated = 0
    /// Blocking reads so far (each stops the host until the device has caught up): lets a
    /// test count an iteration's round trips.
    package private(set) var blockingReads = 0
    /// Bytes of the device buffers alive now, and the most that were alive at once.
    public private(set) var liveBytes = 0, peakLiveBytes = 0
    /// What `Kernels` built on this context use: the defaults until `Autotune.apply` sets them.
    package var tuning: Tuning

    /// Each convolution shape's kernel on this device (see `ConvChoices`).
    package let convChoices = ConvChoices()

    /// Recordings in progress (`recordingEvents`): launches create events only inside one.
    private var recordings = 0
    var recordsEvents: Bool { recordings > 0 }

    /// Runs `body` with every launch recording its event (its device time), when `on`: the
    /// timers (autotune, bench, profile) ask for them; runs do not pay for them.
    package func recordingEvents<T>(_ on: Bool = true, _ body: () throws -> T) rethrows -> T {
        guard on else { return try body() }
        recordings += 1
        defer { recordings -= 1 }
        return try body()
    }

    /// Set while `measure` runs: buffers are counted here instead of allocated.
    private var dryRun: DeviceMemory?

    func noteBufferCreated(bytes: Int) {
        lock.lock()
        buffersCreated += 1
        liveBytes += bytes
        peakLiveBytes = max(peakLiveBytes, liveBytes)
        lock.unlock()
    }

    func noteBlockingRead() {
        lock.lock()
        blockingReads += 1
        lock.unlock()
    }

    func noteBufferReleased(bytes: Int) {
        lock.lock()
        liveBytes -= bytes
        lock.unlock()
    }

    /// The device memory the buffers created by `body` would take, without allocating it: a
    /// memory plan checked before the real thing is built (an image too big for the device is
    /// then stylized in tiles). The objects `body` builds hold placeholder buffers and must not
    /// be run. Kernels are still compiled (and stay cached).
    public func measure(_ body: () throws -> Void) rethrows -> DeviceMemory {
        lock.lock()
        precondition(dryRun == nil, "measure does not nest")
        dryRun = DeviceMemory()
        lock.unlock()
        defer { lock.lock(); dryRun = nil; lock.unlock() }
        try body()
        lock.lock()
        defer { lock.unlock() }
        return dryRun!
    }

    /// Runs `body` with real buffers even inside a `measure` (the autotune times a convolution
    /// the first time a model, measured or real, asks for its shape); they are not counted.
    func allocatingForReal<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        let saved = dryRun
        dryRun = nil
        lock.unlock()
        defer { lock.lock(); dryRun = saved; lock.unlock() }
        return try body()
    }

    /// Counts a buffer in a running `measure`; false when none runs (allocate for real).
    func countDry(bytes: Int) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard dryRun != nil else { return false }
        dryRun!.add(bytes)
        return true
    }

    /// Caches, autotune, program cache: what the library is told (see `RuntimeSettings`).
    public let settings: RuntimeSettings

    /// Buffers are never released: asked for, or the driver needs it (`DriverQuirks`).
    let keepsReleasedBuffers: Bool

    public init(device: Device, settings: RuntimeSettings = .fromEnvironment()) throws {
        self.device = device
        self.settings = settings
        keepsReleasedBuffers = settings.keepReleasedBuffers ?? DriverQuirks.of(device).contains { $0.effect == .keepReleasedBuffers }
        tuning = Tuning.defaults(for: device)
        var status: cl_int = 0
        var deviceID: cl_device_id? = device.id
        guard let ctx = clCreateContext(nil, 1, &deviceID, nil, nil, &status) else {
            throw CLError(status, "clCreateContext")
        }
        try check(status, "clCreateContext")
        context = ctx
        let props = cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE)
        guard let q = clCreateCommandQueue(ctx, device.id, props, &status) else {
            clReleaseContext(ctx)
            throw CLError(status, "clCreateCommandQueue")
        }
        queue = q
    }

    /// The preferred device, or the one `selector` names (see `Device.select`).
    public convenience init(selecting selector: String? = nil, settings: RuntimeSettings = .fromEnvironment()) throws {
        let devices = try Device.all()
        try self.init(device: Device.select(selector, among: devices), settings: settings)
    }

    deinit {
        programs.removeAll()
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
    }

    /// The program built from `cl/<file>.cl` with `-D` definitions, built once per context.
    package func program(_ file: String, defines: [String: String] = [:]) throws -> Program {
        let source = try Self.source(file)
        var options = Program.options(defines: defines)
        if DriverQuirks.of(device).contains(where: { $0.effect == .buildUnoptimized }) { options += " -cl-opt-disable" }
        let key = file + " " + options
        lock.lock()
        defer { lock.unlock() }
        if let p = programs[key] { return p }
        let p = try Program(context: self, source: source, name: file, options: options)
        programs[key] = p
        return p
    }

    /// An embedded `.cl` file's text, with `#include "other.cl"` lines replaced by that file's
    /// text (the embedded sources have no directory a compiler could search).
    static func source(_ file: String, depth: Int = 0) throws -> String {
        guard let text = KernelSources.files[file], depth < 8 else {
            throw CLError(CL_INVALID_VALUE, "program(\(file))", detail: "no kernel file cl/\(file).cl is embedded")
        }
        return try text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("#include \""), t.hasSuffix(".cl\"") else { return String(line) }
            let name = t.dropFirst("#include \"".count).dropLast(".cl\"".count)
            return try source(String(name), depth: depth + 1)
        }.joined(separator: "\n")
    }

    /// A kernel from an embedded `.cl` file.
    package func kernel(_ file: String, _ name: String, defines: [String: String] = [:]) throws -> Kernel {
        let k = try program(file, defines: defines).kernel(name)
        k.origin = (file, defines)
        return k
    }

    package func buffer(floats count: Int) throws -> Buffer {
        try Buffer(context: self, bytes: max(count, 1) * MemoryLayout<Float>.size)
    }

    /// `count` elements stored as `storage` (fp16 buffers are rounded up to whole floats, so
    /// `fill(0)` covers them).
    package func buffer(count: Int, storage: Storage) throws -> Buffer {
        try Buffer(context: self, bytes: (max(count, 1) * storage.bytes).roundedUp(to: 4), storage: storage, count: max(count, 1))
    }

    package func buffer(_ values: [Float]) throws -> Buffer {
        let b = try buffer(floats: values.count)
        try b.write(values)
        return b
    }

    package func buffer(int32 values: [Int32]) throws -> Buffer {
        let b = try buffer(floats: values.count)
        try b.write(int32: values)
        return b
    }

    /// Waits for everything queued so far.
    public func finish() throws {
        try check(clFinish(queue), "clFinish")
    }
}

/// An amount of device memory: the sum of some buffers and the largest of them (a device
/// limits both: CL_DEVICE_GLOBAL_MEM_SIZE and CL_DEVICE_MAX_MEM_ALLOC_SIZE).
public struct DeviceMemory: Equatable, CustomStringConvertible {
    public private(set) var total = 0, largest = 0
    public init(total: Int = 0, largest: Int = 0) { self.total = total; self.largest = largest }

    mutating func add(_ bytes: Int) { total += bytes; largest = max(largest, bytes) }
    public static func + (a: DeviceMemory, b: DeviceMemory) -> DeviceMemory {
        DeviceMemory(total: a.total + b.total, largest: max(a.largest, b.largest))
    }
    public var description: String { "\(mebibytes(total)) (largest buffer \(mebibytes(largest)))" }
}

/// "123.4 MiB".
public func mebibytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1048576) }
