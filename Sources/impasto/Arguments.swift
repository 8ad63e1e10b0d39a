import ArgumentParser
import Foundation
import Impasto

/// "500x400" → (500, 400), width first (a usage error when it is not a size).
func parseSize(_ s: String) throws -> (Int, Int) {
    do {
        let size = try StylizeSettings.Size(parsing: s)
        return (size.width, size.height)
    } catch let e as SettingError { throw ValidationError("size \(e.problem)") }
}

/// `random[:SEED]` or a weights file (.pth or .safetensors), loaded.
func loadWeights(_ spec: String) throws -> VGGWeights {
    do { return try WeightsSpec(parsing: spec).load() } catch let e as SettingError { throw ValidationError(described(e)) }
}

/// The selected device's context with its tuning applied: from the cache, or measured now,
/// the first time this device (driver, kernels) is seen, which is said on stderr.
func tunedContext(_ selector: String?, quiet: Bool = false) throws -> CLContext {
    try tuned(CLContext(selecting: selector), quiet: quiet)
}

func tunedContext(device: Device, quiet: Bool = false) throws -> CLContext {
    try tuned(CLContext(device: device), quiet: quiet)
}

private func tuned(_ context: CLContext, quiet: Bool) throws -> CLContext {
    let source = try Autotune.apply(to: context)
    if !quiet {
        switch source {
        case .cached, .disabled: break
        case .measured:
            writeStderr("tuned for \(context.device.name) (\(source)): \(context.tuning) (kept in \(context.settings.tuningFile.path))\n")
        case .defaults:
            writeStderr("\(context.device.name): \(source); \(context.tuning)\n")
        }
    }
    return context
}

// Option values the parser checks itself: an unknown one is a usage error naming the choices.
extension PoolKind: ExpressibleByArgument {}
extension ConvAlgorithm: ExpressibleByArgument {}
extension Storage: ExpressibleByArgument {}
extension StyleLossKind: ExpressibleByArgument {}

extension StylizeSettings.OptimizerKind: ExpressibleByArgument {}

/// --preserve-colors.
enum ColorOption: String, CaseIterable, ExpressibleByArgument {
    case luminance, histogram
    var colors: StylizeRequest.Colors { self == .luminance ? .luminance : .histogram }
}

/// --init: content, noise, style, or an image file's path.
enum StartOption: ExpressibleByArgument, Equatable {
    case content, noise, style
    case file(String)
    init?(argument: String) {
        switch argument {
        case "content": self = .content
        case "noise": self = .noise
        case "style": self = .style
        default: self = .file(argument)
        }
    }
    var defaultValueDescription: String {
        switch self {
        case .content: return "content"
        case .noise: return "noise"
        case .style: return "style"
        case .file(let path): return path
        }
    }
}
