import Foundation

/// Loads VGG19 weights from any supported file, sniffing the format from its bytes:
/// safetensors, torch zip, or torch legacy. Only `features.*` is read; `classifier.*` is ignored.
public enum WeightsFile {
    /// No VGG19 checkpoint comes near this (the official one is 548 MB).
    static let maxBytes = 4 << 30

    /// The tensors a VGG19 needs, and nothing else is read.
    static func needed(_ key: String) -> Bool { VGGWeights.neededKeys.contains(key) }

    public static func load(_ url: URL) throws -> VGGWeights {
        let file = try InputFile.Reader(url.path)
        if file.size == 0 { throw WeightsError("\(InputFile.display(url.path)): the weights file is empty") }
        guard file.size <= maxBytes else {
            throw WeightsError("\(InputFile.display(url.path)) is \(file.size) bytes, more than any VGG19 weights file (the official one is 548 MB)")
        }
        let head = try file.read(at: 0, count: min(9, file.size))
        let tensors: [String: (shape: [Int], values: [Float])]
        if head.count == 9 && head[8] == UInt8(ascii: "{") {
            tensors = try SafeTensors.read(url, only: needed, check: VGGWeights.plausible)
        } else {
            tensors = try TorchCheckpoint.read(url, data: file.readAll(maxBytes: maxBytes), only: needed, check: VGGWeights.plausible)
        }
        return try VGGWeights(tensors: tensors, origin: url.path)
    }
}
