import Foundation

/// One convolution's parameters in PyTorch's layout: weight [cout][cin][3][3], bias [cout].
public struct ConvWeight {
    public let cout, cin: Int
    public let weight: [Float]
    public let bias: [Float]
}

/// The convolutions of VGG19's `features` up to module 28 (conv5_1), keyed by module index.
/// Channel widths come from the file, so narrower nets (the div-8 golden net) work the same.
public struct VGGWeights {
    public let convs: [Int: ConvWeight]
    /// Where they came from, for messages ("random (seed 1)", a path).
    public let origin: String
    /// Host bytes of the values.
    public var bytes: Int { convs.values.reduce(0) { $0 + 4 * ($1.weight.count + $1.bias.count) } }

    /// Builds and validates: every conv module present, 3×3 kernels, each layer's input width
    /// equal to the previous layer's output width, first input RGB, no NaN or Inf.
    public init(tensors: [String: (shape: [Int], values: [Float])], origin: String) throws {
        var convs: [Int: ConvWeight] = [:]
        var previousOut = 3
        for index in VGG19.convIndices {
            let wKey = "features.\(index).weight", bKey = "features.\(index).bias"
            guard let w = tensors[wKey] else { throw WeightsError("\(origin): missing \(wKey)") }
            guard let b = tensors[bKey] else { throw WeightsError("\(origin): missing \(bKey)") }
            guard w.shape.count == 4, w.shape[2] == 3, w.shape[3] == 3, w.shape[0] > 0 else {
                throw WeightsError("\(origin): \(wKey) has shape \(w.shape), expected [cout, cin, 3, 3]")
            }
            let cout = w.shape[0], cin = w.shape[1]
            guard cin == previousOut else {
                throw WeightsError("\(origin): \(wKey) takes \(cin) input channels, but the layer before gives \(previousOut)")
            }
            guard b.shape == [cout] else {
                throw WeightsError("\(origin): \(bKey) has shape \(b.shape), expected [\(cout)]")
            }
            guard w.values.count == cout * cin * 9, b.values.count == cout else {
                throw WeightsError("\(origin): \(wKey) holds \(w.values.count) values for shape \(w.shape)")
            }
            if let bad = (w.values + b.values).first(where: { !$0.isFinite }) {
                throw WeightsError("\(origin): \(w.values.contains { !$0.isFinite } ? wKey : bKey) contains \(bad)")
            }
            convs[index] = ConvWeight(cout: cout, cin: cin, weight: w.values, bias: b.values)
            previousOut = cout
        }
        self.convs = convs
        self.origin = origin
    }

    /// The keys a VGG19 up to conv5_1 is made of.
    public static let neededKeys: Set<String> = Set(VGG19.convIndices.flatMap { ["features.\($0).weight", "features.\($0).bias"] })

    /// VGG19's widths are at most 512; anything far larger is no VGG19 (and must not be read:
    /// a file may declare a tensor of 100 GB). Checked on the declared shape, before any data.
    public static let maxChannels = 4096
    public static func plausible(_ key: String, _ shape: [Int]) -> String? {
        let ok = key.hasSuffix(".weight")
            ? shape.count == 4 && shape[2] == 3 && shape[3] == 3 && (1...maxChannels).contains(shape[0]) && (1...maxChannels).contains(shape[1])
            : shape.count == 1 && (1...maxChannels).contains(shape[0])
        return ok ? nil : "\(key) has shape \(shape), expected \(key.hasSuffix(".weight") ? "[cout, cin, 3, 3]" : "[cout]") with at most \(maxChannels) channels"
    }

    /// He-initialised weights (normal, std √(2 / (cout·9)), torchvision's fan-out rule; zero
    /// bias) at the real VGG19 widths divided by `widthDivisor`. Deterministic in `seed`.
    public static func random(seed: UInt64, widthDivisor: Int = 1) throws -> VGGWeights {
        var rng = SplitMix64(seed: seed)
        var tensors: [String: (shape: [Int], values: [Float])] = [:]
        var cin = 3
        for index in VGG19.convIndices {
            let cout = max(1, VGG19.realWidths[index]! / widthDivisor)
            let std = (2.0 / Double(cout * 9)).squareRoot()
            let w = (0..<(cout * cin * 9)).map { _ in Float(rng.normal() * std) }
            tensors["features.\(index).weight"] = ([cout, cin, 3, 3], w)
            tensors["features.\(index).bias"] = ([cout], [Float](repeating: 0, count: cout))
            cin = cout
        }
        return try VGGWeights(tensors: tensors, origin: "random (seed \(seed))")
    }
}

public struct WeightsError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
