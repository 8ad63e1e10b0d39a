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

/// "2G", "512M", "1.5GiB", "300000000" → bytes (K/M/G/T are powers of 1024).
func parseBytes(_ s: String) throws -> Int {
    let t = s.trimmingCharacters(in: .whitespaces).uppercased()
    let k = 1024.0
    let units: [(String, Double)] = [("TIB", k * k * k * k), ("GIB", k * k * k), ("MIB", k * k), ("KIB", k),
                                     ("TB", k * k * k * k), ("GB", k * k * k), ("MB", k * k), ("KB", k),
                                     ("T", k * k * k * k), ("G", k * k * k), ("M", k * k), ("K", k), ("B", 1)]
    let (number, factor) = units.first { t.hasSuffix($0.0) }.map { (String(t.dropLast($0.0.count)), $0.1) } ?? (t, 1)
    guard let v = Double(number.trimmingCharacters(in: .whitespaces)), v.isFinite, v > 0, v * factor < 1e18 else {
        throw SettingError("maxMemory", "'\(s)' is not a memory size such as 2G, 512M or 1500000000")
    }
    return Int(v * factor)
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

/// bench and profile run the whole image untiled: refuse a size whose model (measured dry,
/// nothing allocated) does not fit the device, or whose pictures do not fit the host.
func checkWholeImageFits(_ context: CLContext, _ w: Int, _ h: Int, command: String, weights: VGGWeights? = nil) throws {
    try HostMemory.check(width: w, height: h, bytesPerPixel: 48, what: "\(command) --size")
    let need = try Objectives.measureWhole(context: context, weights: weights ?? VGGWeights.random(seed: 1), width: w, height: h,
                                          config: LossConfig())
    let device = context.device
    guard need.total <= Int(device.globalMemBytes), need.largest <= Int(device.maxAllocBytes) else {
        throw ValidationError("\(command) --size \(w)x\(h) needs \(need) of device memory; \(device.name) has \(mebibytes(Int(device.globalMemBytes))), at most \(mebibytes(Int(device.maxAllocBytes))) in one buffer")
    }
}

// Option values the parser checks itself: an unknown one is a usage error naming the choices.
extension PoolKind: ExpressibleByArgument {}
extension ConvAlgorithm: ExpressibleByArgument {}
extension Storage: ExpressibleByArgument {}

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
