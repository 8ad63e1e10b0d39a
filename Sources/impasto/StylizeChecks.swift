import ArgumentParser
import Foundation
import Impasto

/// `stylize`: the checks of option values, the files the run writes, and the request the
/// options give.
extension Stylize {
    /// The checks of what only the command has (files, sizes, display, scale options); the
    /// run's settings are `StylizeRequest.validate`'s.
    func checkCommandOptions() throws {
        if demo && (content != nil || !style.isEmpty) { throw ValidationError("--demo paints its own pictures: leave out --content and --style") }
        if !demo && (content == nil || style.isEmpty) {
            throw ValidationError("give --content and --style (or --demo for built-in sample pictures)")
        }
        if let saveEvery, saveEvery < 1 { throw ValidationError("--save-every must be at least 1") }
        if let checkpointEvery, checkpointEvery < 1 { throw ValidationError("--checkpoint-every must be at least 1") }
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be between 1 and 100") }
        guard maxPixels > 0 else { throw ValidationError("--max-pixels must be positive") }
        if let m = maxMemory, try parseBytes(m) < 16 << 20 {
            throw ValidationError("--max-memory \(m) is below 16M, too little for any model (tiles need at least a few MiB each)")
        }
        if size != nil && maxSize != nil { throw ValidationError("give --size or --max-size, not both") }
        if let s = size { _ = try checkedSize(try parseSize(s)) }
        if let m = maxSize, m < VGG19.minimumSide || m > 65536 {
            throw ValidationError("--max-size must be between \(VGG19.minimumSide) and 65536")
        }
        guard (1...8).contains(scales) else { throw ValidationError("--scales must be between 1 and 8") }
        if scaleSizes != nil && scales != 1 { throw ValidationError("give --scales or --scale-sizes, not both") }
        _ = try ImageFile.format(of: output)
    }

    /// The run these options ask for, with these pictures and schedule (checked by the run).
    func request(content: RGBImage, styles: [RGBImage], initPicture: RGBImage?, mask: RGBImage?,
                 sizes: [(Int, Int)], iterations: [Int]) throws -> StylizeRequest {
        var r = StylizeRequest(content: content, styles: styles, sizes: sizes.map { (width: $0.0, height: $0.1) }, iterations: iterations)
        (r.styleBlend, r.styleScale, r.mask) = (try blendWeights(), styleScale, mask)
        switch initImage {
        case .content: r.start = .content
        case .noise: r.start = .noise(seed: seed)
        case .style: r.start = .style
        case .file: r.start = .picture(initPicture!)
        }
        r.colors = preserveColors?.colors ?? .style
        r.loss = try lossConfig()
        (r.contentWeight, r.styleWeight, r.tvWeight) = (contentWeight, styleWeight, tvWeight ?? 10)
        r.optimizer = optimizer == .lbfgs ? .lbfgs(history: lbfgsHistory) : .adam
        (r.lr, r.lrDecayEvery, r.lrDecayGamma) = (lr, lrDecayEvery, lrDecayGamma)
        return r
    }

    /// Every file the run will write, checked against every input (by identity) before any
    /// work: no output overwrites an input, every folder exists, no two outputs coincide.
    func guardFiles() throws -> OutputGuard {
        var outputs = OutputGuard()
        var initPath: String?
        if case .file(let path) = initImage { initPath = path }
        for (path, option) in [(content, "--content"), (initPath, "--init"), (mask, "--mask")] + style.map({ ($0, "--style") }) {
            if let path { try outputs.protect(path, as: option) }
        }
        if let weights, weights != "random", !weights.hasPrefix("random:") { try outputs.protect(weights, as: "--weights") }
        try outputs.checkReplaceable(output, option: "--output")
        if let saveEvery, saveEvery > 0 { try outputs.checkReplaceable(numbered(output, saveEvery), option: "--save-every") }
        if let path = checkpointPath {
            try outputs.checkReplaceable(path, option: "--checkpoint")
            if samePath(path, output) { throw ValidationError("--checkpoint and --output are the same file") }
        }
        if let progressImage {
            _ = try ImageFile.format(of: progressImage)
            try outputs.checkReplaceable(progressImage, option: "--progress-image")
            if samePath(progressImage, output) { throw ValidationError("--progress-image and --output are the same file") }
        }
        if let log {
            try outputs.checkLog(log, option: "--log")
            for other in [output, progressImage].compactMap({ $0 }) where samePath(log, other) {
                throw ValidationError("--log and \(other == output ? "--output" : "--progress-image") are the same file")
            }
        }
        return outputs
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

    /// Where the run's checkpoint goes: --checkpoint, or OUTPUT.checkpoint with --checkpoint-every.
    var checkpointPath: String? { checkpoint ?? checkpointEvery.map { _ in output + ".checkpoint" } }
}
