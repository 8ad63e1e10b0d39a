import Foundation

/// Loads VGG19 weights from any supported file, sniffing the format from its bytes:
/// safetensors, torch zip, or torch legacy. Only `features.*` is read; `classifier.*` is ignored.
public enum WeightsFile {
    public static func load(_ url: URL) throws -> VGGWeights {
        guard FileManager.default.fileExists(atPath: url.path) else { throw WeightsError("\(url.path): no such weights file") }
        guard let handle = FileHandle(forReadingAtPath: url.path) else { throw WeightsError("\(url.path): cannot be read") }
        let head = (try? handle.read(upToCount: 9)) ?? Data()
        try? handle.close()
        let features = { (key: String) in key.hasPrefix("features.") }
        let tensors: [String: (shape: [Int], values: [Float])]
        if head.count == 9 && head[8] == UInt8(ascii: "{") {
            tensors = try SafeTensors.read(url, only: features)
        } else if head.isEmpty {
            throw WeightsError("\(url.path): the weights file is empty")
        } else {
            tensors = try TorchCheckpoint.read(url, only: features)
        }
        return try VGGWeights(tensors: tensors, origin: url.path)
    }
}
