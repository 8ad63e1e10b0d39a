import ArgumentParser
import Foundation
import Impasto

struct ImpastoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "impasto",
        abstract: "Neural style transfer on any OpenCL device.",
        subcommands: [Stylize.self, Devices.self, Bench.self, Profile.self]
    )
}

/// Parses and runs a command. Every failure, usage errors included, is one line on stderr and
/// a non-zero exit below 128; help and version print as usual.
@main
enum Main {
    static func main() {
        do {
            var command = try ImpastoCommand.parseAsRoot()
            try command.run()
        } catch {
            let code = ImpastoCommand.exitCode(for: error)
            if code == .success { ImpastoCommand.exit(withError: error) }
            let message = ImpastoCommand.message(for: error)
                .split(separator: "\n").first.map(String.init) ?? "failed"
            let text = message.hasPrefix("Error: ") ? String(message.dropFirst("Error: ".count)) : message
            FileHandle.standardError.write(Data("impasto: \(text)\n".utf8))
            exit(code.rawValue == 0 || code.rawValue >= 128 ? 1 : code.rawValue)
        }
    }
}

/// `--device`, shared by every command; falls back to `IMPASTO_DEVICE`.
struct DeviceOptions: ParsableArguments {
    @Option(name: .long, help: "Device index or a substring of its name (default: $IMPASTO_DEVICE, else the best GPU, else the CPU).")
    var device: String?

    var selector: String? { device ?? ProcessInfo.processInfo.environment["IMPASTO_DEVICE"] }
}

/// Ends the process with one line on stderr and exit status 1: the way every command fails.
func fail(_ error: Error) -> Never {
    let text = String(describing: error).split(separator: "\n").first.map(String.init) ?? "failed"
    FileHandle.standardError.write(Data("impasto: \(text)\n".utf8))
    exit(1)
}

/// Runs a command body, turning any thrown error into `fail`.
func guarded<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch { fail(error) }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
