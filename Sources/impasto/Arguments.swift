import ArgumentParser
import Foundation
import Impasto

/// "500x400" → (500, 400), width first.
func parseSize(_ s: String) throws -> (Int, Int) {
    let parts = s.lowercased().split(separator: "x")
    guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), w > 0, h > 0 else {
        throw ValidationError("size '\(s)' is not WIDTHxHEIGHT with positive whole numbers, e.g. 500x400")
    }
    guard w <= 65536, h <= 65536 else { throw ValidationError("size '\(s)' is larger than 65536 on a side") }
    return (w, h)
}

/// `random[:SEED]` or a weights file (.pth or .safetensors).
func loadWeights(_ spec: String) throws -> VGGWeights {
    if spec == "random" || spec.hasPrefix("random:") {
        let seedText = spec.dropFirst("random".count).drop { $0 == ":" }
        guard let seed = seedText.isEmpty ? 0 : UInt64(seedText) else {
            throw ValidationError("--weights random:SEED needs a whole number seed, got '\(seedText)'")
        }
        return try VGGWeights.random(seed: seed)
    }
    return try WeightsFile.load(URL(fileURLWithPath: spec))
}
