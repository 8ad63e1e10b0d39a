import ArgumentParser
import Foundation
import Impasto

struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every OpenCL platform and device, and the one impasto would use.")

    @OptionGroup var deviceOptions: DeviceOptions
    @Flag(help: "Print JSON instead of text.") var json = false
    @Flag(help: "Run a small self-test of the kernels (convolutions, Gram matrix, pooling) on every device against a CPU reference; exit 1 if any device fails.")
    var check = false

    func run() throws {
        guarded {
            let devices = try Device.all()
            let chosen = try Device.select(deviceOptions.selector, among: devices)
            var reports = devices.map { DeviceReport($0, selected: $0.index == chosen.index) }
            if check {
                for i in reports.indices {
                    do {
                        reports[i].check = try SelfTest.run(on: CLContext(device: devices[i]))
                    } catch {
                        reports[i].check = [SelfTest.Result(name: "could not run: \(error)", relativeError: .infinity, passed: false)]
                    }
                }
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(reports), as: UTF8.self))
            } else {
                for r in reports { print(r.text) }
            }
            let broken = reports.filter { $0.check?.contains { !$0.passed } == true }
            if !broken.isEmpty {
                throw ValidationError("the self-test failed on " + broken.map { "[\($0.index)] \($0.name)" }.joined(separator: ", ") + ": do not use it for a long run")
            }
        }
    }
}

/// What `impasto devices` shows of one device; the JSON keys are its field names.
struct DeviceReport: Encodable {
    let index: Int
    let selected: Bool
    let platform: String
    let platformVersion: String
    let name: String
    let vendor: String
    let type: String
    let deviceVersion: String
    let driverVersion: String
    let openCLCVersion: String
    let computeUnits: Int
    let clockMHz: Int
    let globalMemBytes: UInt64
    let localMemBytes: UInt64
    let maxAllocBytes: UInt64
    let maxWorkGroupSize: Int
    let fp16: Bool
    let fp64: Bool
    /// DriverQuirks that apply: name, symptom and what impasto does.
    let quirks: [[String: String]]
    /// `--check`: each self-test's relative error and verdict.
    var check: [SelfTest.Result]?

    init(_ d: Device, selected: Bool) {
        index = d.index
        self.selected = selected
        platform = d.platformName
        platformVersion = d.platformVersion
        name = d.name
        vendor = d.vendor
        type = d.typeName
        deviceVersion = d.version
        driverVersion = d.driverVersion
        openCLCVersion = d.openCLCVersion
        computeUnits = d.computeUnits
        clockMHz = d.clockMHz
        globalMemBytes = d.globalMemBytes
        localMemBytes = d.localMemBytes
        maxAllocBytes = d.maxAllocBytes
        maxWorkGroupSize = d.maxWorkGroupSize
        fp16 = d.hasFP16
        fp64 = d.hasFP64
        quirks = DriverQuirks.of(d).map { ["name": $0.name, "symptom": $0.symptom, "handling": $0.handling] }
    }

    var text: String {
        func mib(_ b: UInt64) -> String { String(format: "%.0f MiB", Double(b) / 1_048_576) }
        return """
        [\(index)] \(name)\(selected ? "  (selected)" : "")
            platform        \(platform) (\(platformVersion))
            vendor, type    \(vendor), \(type)
            versions        device \(deviceVersion); driver \(driverVersion); \(openCLCVersion)
            compute         \(computeUnits) units at \(clockMHz) MHz, work-group up to \(maxWorkGroupSize)
            memory          global \(mib(globalMemBytes)), local \(localMemBytes / 1024) KiB, largest allocation \(mib(maxAllocBytes))
            fp16, fp64      \(fp16 ? "yes" : "no"), \(fp64 ? "yes" : "no")
        """ + quirks.map { "\n    quirk           \($0["name"]!): \($0["symptom"]!); \($0["handling"]!)" }.joined()
            + (check ?? []).map { String(format: "\n    check           %@ %@ (relative error %.1e)", $0.passed ? "ok    " : "FAILED", $0.name, $0.relativeError) }.joined()
    }
}
