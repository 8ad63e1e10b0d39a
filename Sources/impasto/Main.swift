import ArgumentParser
import Foundation
import Impasto

@main
struct Impasto: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "impasto",
        abstract: "Neural style transfer on any OpenCL device.",
        subcommands: [Devices.self, Profile.self]
    )
}

/// `--device`, shared by every command; falls back to `IMPASTO_DEVICE`.
struct DeviceOptions: ParsableArguments {
    @Option(name: .long, help: "Device index or a substring of its name (default: $IMPASTO_DEVICE, else the best GPU, else the CPU).")
    var device: String?

    var selector: String? { device ?? ProcessInfo.processInfo.environment["IMPASTO_DEVICE"] }
}

/// Ends the process with one line on stderr and exit status 1: the way every command fails.
func fail(_ error: Error) -> Never {
    let text = String(describing: error)
    FileHandle.standardError.write(Data("impasto: \(text)\n".utf8))
    exit(1)
}

/// Runs a command body, turning any thrown error into `fail`.
func guarded<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch { fail(error) }
}
