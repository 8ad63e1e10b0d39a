/// What some OpenCL implementations do that the rest of Impasto must allow for, in one table:
/// which driver, the measured symptom, and what Impasto does about it. `impasto devices`
/// shows the quirks of each device.
package struct DriverQuirk: Equatable, Sendable {
    package enum Effect: Sendable {
        /// The program binary cache stays off (unless IMPASTO_PROGRAM_CACHE=1).
        case noProgramCache
        /// Released buffers stay allocated (device memory is never reused within a context).
        case keepReleasedBuffers
        /// Programs are built with -cl-opt-disable.
        case buildUnoptimized
        /// Nothing to switch: the symptom is handled where it arises (noted for `devices`).
        case handled
    }
    package let name: String
    package let symptom: String
    package let handling: String
    package let effect: Effect
    let matches: @Sendable (Device) -> Bool

    package static func == (a: DriverQuirk, b: DriverQuirk) -> Bool { a.name == b.name }
}

package enum DriverQuirks {
    static func platform(_ text: String) -> @Sendable (Device) -> Bool {
        { $0.platformName.lowercased().contains(text) }
    }

    package static let table: [DriverQuirk] = [
        DriverQuirk(name: "pocl-own-cache",
                    symptom: "POCL caches compiled kernels itself, and asking it for a program's binary costs one more compile",
                    handling: "the program cache is off", effect: .noProgramCache,
                    matches: platform("portable computing language")),
        DriverQuirk(name: "intel-binaries-drop-arg-info",
                    symptom: "Intel's CPU runtime 2026.2: programs built from a cached binary report no kernel argument types",
                    handling: "the program cache is off, so every launch's argument types stay checked", effect: .noProgramCache,
                    matches: platform("intel(r) opencl")),
        DriverQuirk(name: "no-clock",
                    symptom: "the device reports a 0 MHz clock (Intel's CPU runtime)",
                    handling: "the default-device ranking uses the fastest clock the other devices report",
                    effect: .handled, matches: { $0.clockMHz == 0 }),
        DriverQuirk(name: "llvmpipe-loop-limit",
                    symptom: "rusticl on llvmpipe ends any loop after 65535 iterations and its profiling events read about 1 ns",
                    handling: "gram_backward's ragged-edge path (up to 16 x 15 x C trips) loops C times per work-item, tested at 512 channels; the autotune times by the wall clock when events are implausible",
                    effect: .handled, matches: { $0.name.lowercased().contains("llvmpipe") }),
        DriverQuirk(name: "oclgrind-reused-slot",
                    symptom: "oclgrind 21.10's uninitialised-value check keeps a released buffer's size for the next buffer in its slot: a larger one reads as uninitialised past that size although every byte was written (a false report, 1000 of them on a whole stylize)",
                    handling: "released buffers are kept until the context ends, so no slot is reused (tiny shapes only run there)",
                    effect: .keepReleasedBuffers, matches: platform("oclgrind")),
        DriverQuirk(name: "oclgrind-freeze",
                    symptom: "oclgrind 21.10's uninitialised-value check cannot execute LLVM's `freeze` instruction, which optimised builds of the Winograd transforms contain: it stops with a fatal error",
                    handling: "programs are built with -cl-opt-disable there (also in the program cache's key)",
                    effect: .buildUnoptimized, matches: platform("oclgrind")),
    ]

    package static func of(_ device: Device) -> [DriverQuirk] { table.filter { $0.matches(device) } }
}
