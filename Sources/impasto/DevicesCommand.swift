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
            let reports = try DeviceReport.all(selected: deviceOptions.selector, check: check)
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

