import ArgumentParser
import Foundation
import Impasto

struct ImpastoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "impasto",
        abstract: "Neural style transfer on any OpenCL device.",
        version: ImpastoVersion.current,
        subcommands: [Stylize.self, Plan.self, Batch.self, Video.self, Flow.self, Weights.self, Devices.self, Bench.self, Profile.self, VideoCheck.self]
    )
}

/// Parses and runs a command. Every failure, usage errors included, is one line on stderr and
/// a non-zero exit below 128; help and version print as usual.
@main
enum Main {
    static func main() {
        signal(SIGPIPE, SIG_IGN)  // a reader that went away is an error on that write, not death
        do {
            var command = try ImpastoCommand.parseAsRoot()
            try command.run()
        } catch {
            let code = ImpastoCommand.exitCode(for: error)
            if code == .success { ImpastoCommand.exit(withError: error) }
            writeStderr("impasto: \(errorLine(error))\n")
            exit(code.rawValue == 0 || code.rawValue >= 128 ? 1 : code.rawValue)
        }
    }
}

/// `--device`, shared by every command; falls back to `IMPASTO_DEVICE`.
struct DeviceOptions: ParsableArguments {
    @Option(name: .long, help: "Device index, gpu, cpu, or a substring of its device or platform name (default: $IMPASTO_DEVICE, else the best GPU, else the CPU).")
    var device: String?

    var selector: String? { device ?? ProcessInfo.processInfo.environment["IMPASTO_DEVICE"] }
}

/// Ends the process with one line on stderr and exit status 1: the way every command fails.
/// (An `ExitCode` has said what it had to already: only its status.)
func fail(_ error: Error) -> Never {
    if let code = error as? ExitCode { exit(code.rawValue) }
    writeStderr("impasto: \(errorLine(error))\n")
    exit(error is ToolInterrupted ? Interrupt.exitStatus : 1)
}

/// An error as the one line impasto prints: argument-parser's message for usage errors (its
/// first line, without "Error: "), otherwise the error in words; escaped and bounded
/// (`ErrorText.oneLine`), so no input reaches the terminal raw or unbounded.
func errorLine(_ error: Error) -> String {
    let text: String
    if error is SettingError {
        text = described(error)  // the field as its option
    } else if error is FileError || error is StyleTransferError || error is CLError {
        text = ErrorText.describe(error)
    } else {
        let message = ImpastoCommand.message(for: error)
        let first = message.split(separator: "\n").first.map(String.init) ?? ""
        text = first.isEmpty ? ErrorText.describe(error) : first.hasPrefix("Error: ") ? String(first.dropFirst("Error: ".count)) : first
    }
    return ErrorText.oneLine(text)
}

/// Runs a command body, turning any thrown error into `fail`.
func guarded<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch { fail(error) }
}

/// Writes to stderr and ignores failure: a closed or broken stderr (`2>&-`, `| head -c 1`)
/// must never stop the work (SIGPIPE is ignored, so a broken pipe is an error code here).
func writeStderr(_ text: String) {
    let bytes = Array(text.utf8)
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress! + done, bytes.count - done) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        done += n
    }
}

func printError(_ line: String) {
    writeStderr((line + "\n"))
}
