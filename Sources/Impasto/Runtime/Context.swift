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

    /// Set while `reserve` runs: buffers are noted there instead of allocated.
    private var reserving: ReservedBuffers?

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

    /// Builds with every buffer `body` creates reserved rather than allocated: what it built,
    /// and the memory it will take, before any of it is taken (an image too big for the device
    /// is then stylized in tiles instead). `Reservation.allocate` then makes those same buffers
    /// real, so a model is built once; dropped unallocated, it cost no device memory. Kernels
    /// are still compiled (and stay cached); the built objects must not run before `allocate`.
    package func reserve<T>(_ body: () throws -> T) rethrows -> Reservation<T> {
        let log = ReservedBuffers()
        lock.lock()
        precondition(reserving == nil, "reservations do not nest")
        reserving = log
        lock.unlock()
        defer { lock.lock(); reserving = nil; lock.unlock() }
        return Reservation(try body(), log)
    }

    /// The device memory the buffers created by `body` would take, without allocating it.
    public func measure(_ body: () throws -> Void) rethrows -> DeviceMemory { try reserve(body).memory }

    /// Runs `body` with real buffers even inside a `reserve` (the autotune times a convolution
    /// the first time a model, reserved or real, asks for its shape); they are not counted.
    func allocatingForReal<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        let saved = reserving
        reserving = nil
        lock.unlock()
        defer { lock.lock(); reserving = saved; lock.unlock() }
        return try body()
    }

    /// The running `reserve`'s log; nil when none runs (allocate for real).
    var reservation: ReservedBuffers? {
        lock.lock()
        defer { lock.unlock() }
        return reserving
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

/// The buffers a `reserve` made, weakly: one its objects let go of before `allocate` is
/// neither counted nor allocated.
final class ReservedBuffers {
    private struct Entry { weak var buffer: Buffer? }
    private var entries: [Entry] = []
    func add(_ b: Buffer) { entries.append(Entry(buffer: b)) }
    var alive: [Buffer] { entries.compactMap(\.buffer) }
}

/// What `CLContext.reserve` built, its buffers not allocated yet: `memory` is what they will
/// take, `allocate` takes it and hands the value over.
package final class Reservation<Value> {
    private let value: Value
    private let log: ReservedBuffers
    package let memory: DeviceMemory

    init(_ value: Value, _ log: ReservedBuffers) {
        self.value = value
        self.log = log
        var memory = DeviceMemory()
        for b in log.alive { memory.add(b.bytes) }
        self.memory = memory
    }

    /// The value as reserved, for reading its plan (its buffers are not to be used).
    package var planned: Value { value }

    /// The value with its buffers allocated (again: the same value, nothing new).
    package func allocate() throws -> Value {
        for b in log.alive { try b.allocate() }
        return value
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
