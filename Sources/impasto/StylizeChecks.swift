import ArgumentParser
import Foundation
import Impasto

/// `stylize`: the checks of option values, and the loss configuration they give.
extension Stylize {
    func checkNumbers() throws {
        if let iterations, !(0...Self.maxIterations).contains(iterations) {
            throw ValidationError("--iterations must be between 0 and \(Self.maxIterations), got \(iterations)")
        }
        if let saveEvery, saveEvery < 1 { throw ValidationError("--save-every must be at least 1") }
        if let lr { guard lr.isFinite, lr > 0 else { throw ValidationError("--lr must be a positive number") } }
        guard (1...1000).contains(lbfgsHistory) else { throw ValidationError("--lbfgs-history must be between 1 and 1000") }
        guard lrDecayEvery >= 1 else { throw ValidationError("--lr-decay-every must be at least 1") }
        guard lrDecayGamma.isFinite, lrDecayGamma > 0 else { throw ValidationError("--lr-decay-gamma must be a positive number") }
        for (name, v) in [("--content-weight", contentWeight), ("--style-weight", styleWeight), ("--tv-weight", tvWeight)] {
            if let v, !(v.isFinite && v >= 0) { throw ValidationError("\(name) must be a finite number, 0 or more") }
        }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be between 1 and 100") }
        if let saveEvery, saveEvery < 1 { throw ValidationError("--save-every must be at least 1") }
        guard maxPixels > 0 else { throw ValidationError("--max-pixels must be positive") }
        if let m = maxMemory, try parseBytes(m) < 16 << 20 {
            throw ValidationError("--max-memory \(m) is below 16M, too little for any model (tiles need at least a few MiB each)")
        }
        if size != nil && maxSize != nil { throw ValidationError("give --size or --max-size, not both") }
        if let s = size { _ = try checkedSize(try parseSize(s)) }
        if let m = maxSize, m < VGG19.minimumSide || m > 65536 {
            throw ValidationError("--max-size must be between \(VGG19.minimumSide) and 65536")
        }
    }

    /// Layers and pooling from the options, names checked.
    func lossConfig() throws -> LossConfig {
        var c = LossConfig()
        func layers(_ text: String, _ option: String) throws -> [Int] {
            let names = text.split(separator: ",").map(String.init)
            guard !names.isEmpty else { throw ValidationError("\(option) needs at least one layer name") }
            let indices = try names.map(VGG19.index(of:))
            guard Set(indices).count == indices.count else { throw ValidationError("\(option) names a layer twice") }
            return indices
        }
        if let t = styleLayers { c.styleLayers = try layers(t, "--style-layers") }
        if let t = contentLayers { c.contentLayers = try layers(t, "--content-layers") }
        if let t = styleLayerWeights {
            let ws = try numbers(t, "--style-layer-weights")
            guard ws.count == c.styleLayers.count else {
                throw ValidationError("--style-layer-weights has \(ws.count) values for \(c.styleLayers.count) style layers")
            }
            c.styleLayerWeights = ws
        }
        (c.pooling, c.convolution, c.storage) = (pooling, conv, storage)
        c.normalizeGradients = normalizeGradients
        return c
    }

    func blendWeights() throws -> [Float]? {
        guard let t = styleBlend else { return nil }
        let ws = try numbers(t, "--style-blend")
        let count = demo ? 1 : style.count
        guard ws.count == count else { throw ValidationError("--style-blend has \(ws.count) weights for \(count) style images") }
        guard ws.contains(where: { $0 > 0 }) else { throw ValidationError("--style-blend weights cannot all be 0") }
        return ws
    }

    func numbers(_ text: String, _ option: String) throws -> [Float] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map {
            guard let v = Float($0.trimmingCharacters(in: .whitespaces)), v.isFinite, v >= 0 else {
                throw ValidationError("\(option): '\($0)' is not a number 0 or more")
            }
            return v
        }
    }
}
