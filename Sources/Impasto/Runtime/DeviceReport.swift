import Foundation

/// What `impasto devices` shows of one device, as text or JSON (the keys are its field names).
package struct DeviceReport: Encodable, Sendable {
    package let index: Int
    package let selected: Bool
    package let platform: String
    package let platformVersion: String
    package let name: String
    package let vendor: String
    package let type: String
    package let deviceVersion: String
    package let driverVersion: String
    package let openCLCVersion: String
    package let computeUnits: Int
    package let clockMHz: Int
    package let globalMemBytes: UInt64
    package let localMemBytes: UInt64
    package let maxAllocBytes: UInt64
    package let maxWorkGroupSize: Int
    package let fp16: Bool
    package let fp64: Bool
    /// DriverQuirks that apply: name, symptom and what impasto does.
    package let quirks: [[String: String]]
    /// `--check`: each self-test's relative error and verdict.
    package var check: [SelfTest.Result]?

    package init(_ d: Device, selected: Bool) {
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

    package var text: String {
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

extension DeviceReport {
    /// Every device's report, `selected` marked; with `check`, each device's self-test run
    /// (a device that cannot run it fails it).
    package static func all(selected selector: String?, check: Bool) throws -> [DeviceReport] {
        let devices = try Device.all()
        let chosen = try Device.select(selector, among: devices)
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
        return reports
    }
}
