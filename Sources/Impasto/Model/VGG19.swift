import Foundation

/// VGG19's `features`, numbered as torchvision numbers its modules, up to conv5_1 (module 28).
public enum VGG19 {
    public static let convIndices = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28]
    public static let poolIndices: Set<Int> = [4, 9, 18, 27]
    public static let lastModule = 28
    /// Output channels of each conv in the real network.
    public static let realWidths: [Int: Int] = [0: 64, 2: 64, 5: 128, 7: 128, 10: 256, 12: 256, 14: 256,
                                                16: 256, 19: 512, 21: 512, 23: 512, 25: 512, 28: 512]
    /// The seed's layers as it really computes them: relu1_1, relu2_1, relu3_1, relu4_1 and
    /// conv5_1 for style, relu4_4 for content. The seed names modules 0, 5, 10, 19, 28 and 25,
    /// but torchvision's ReLUs are in place, so each tensor it keeps after conv i is turned
    /// into ReLU i+1's output before any loss reads it (conv5_1 is last: nothing follows it).
    public static let defaultStyleLayers = [1, 6, 11, 20, 28]
    public static let defaultContentLayers = [26]

    /// "conv3_2", "relu3_2", "pool3" for a module index.
    public static func name(of index: Int) -> String {
        var block = 1, conv = 0
        for i in 0...index {
            if poolIndices.contains(i) {
                if i == index { return "pool\(block)" }
                block += 1
                conv = 0
            } else if convIndices.contains(i) {
                conv += 1
            }
        }
        return (convIndices.contains(index) ? "conv" : "relu") + "\(block)_\(conv)"
    }

    public typealias Pooling = PoolKind

    /// Every module name up to conv5_1, in order.
    public static var moduleNames: [String] { (0...lastModule).map(name(of:)) }

    /// The module index of a layer name ("conv4_2", "relu1_1", "pool2"), case-insensitive.
    public static func index(of layer: String) throws -> Int {
        let key = layer.trimmingCharacters(in: .whitespaces).lowercased()
        guard let i = moduleNames.firstIndex(of: key) else {
            throw StyleTransferError("unknown layer '\(layer)'; layers are conv1_1 … conv5_1, relu1_1 … relu4_4, pool1 … pool4")
        }
        return i
    }

    /// How many times smaller than the image module `index`'s maps are (2^poolings before it, and
    /// including it when it is a pooling).
    public static func scale(at index: Int) -> Int {
        1 << poolIndices.filter { $0 <= index }.count
    }

    /// Smallest image side: four poolings must leave at least one pixel.
    public static let minimumSide = 16

    /// Adds modules 0…`last` to `graph` on top of `input` (a 3-channel image). Each conv runs
    /// as `algorithm` says (`ConvOp`), Winograd in the shared `scratch`. A conv whose
    /// own (pre-ReLU) output nobody needs (not in `keep`: the loss taps and retained modules)
    /// carries the ReLU after it, and that ReLU module is then the conv's output: with the
    /// default taps, which all follow a ReLU, every ReLU is fused. `after` is
    /// called with each module's output as soon as it exists, so losses can be attached right
    /// there. Returns every module's output tensor (a fused conv has none of its own).
    @discardableResult
    package static func build(into graph: Graph, input: TensorID, kernels: Kernels, weights: VGGWeights,
                             upTo last: Int = lastModule, pooling: Pooling = .max, scratch: WinogradScratch, algorithm: ConvAlgorithm = .auto,
                             keep: Set<Int> = [], after: (Int, TensorID) throws -> Void = { _, _ in }) throws -> [Int: TensorID] {
        var outputs: [Int: TensorID] = [:]
        var x = input
        var fusedInto: Int?  // the ReLU module the previous conv carried
        for i in 0...last {
            let shape = graph.shape(x)
            let name = "\(i):\(Self.name(of: i))"
            if fusedInto == i {
                fusedInto = nil
            } else if let w = weights.convs[i] {
                let fuse = !keep.contains(i) && i < last && !poolIndices.contains(i + 1) && weights.convs[i + 1] == nil
                let op = try ConvOp(name: fuse ? "\(name)+\(Self.name(of: i + 1))" : name, kernels: kernels, input: shape,
                                    cout: w.cout, weight: w.weight, bias: w.bias, scratch: scratch,
                                    algorithm: algorithm, fusedReLU: fuse)
                x = graph.add(op, inputs: [x], output: op.outputShape)!
                if fuse {
                    fusedInto = i + 1
                    continue
                }
            } else if poolIndices.contains(i) {
                let op = try PoolOp(name: name, kernels: kernels, input: shape, kind: pooling)
                x = graph.add(op, inputs: [x], output: op.outputShape)!
            } else {
                x = graph.add(try ReLUOp(name: name, kernels: kernels, shape: shape), inputs: [x], output: shape)!
            }
            outputs[i] = x
            try after(i, x)
        }
        return outputs
    }
}
