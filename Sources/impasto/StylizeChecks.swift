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

    /// The files the run reads, with the option naming each.
    func inputFiles() -> [(path: String, option: String)] {
        var files: [(String, String)] = []
        if let content { files.append((content, "--content")) }
        if case .file(let path) = initImage { files.append((path, "--init")) }
        if let mask { files.append((mask, "--mask")) }
        files += style.map { ($0, "--style") }
        if let weights, weights != "random", !weights.hasPrefix("random:") { files.append((weights, "--weights")) }
        return files
    }

    /// Every file the run will write, checked against every input (by identity) before any
    /// work: no output overwrites an input, every folder exists, no two outputs coincide
    /// (by canonical path and identity). `base` holds what a caller guards besides (a batch:
    /// every line's inputs and outputs); `label` starts each message (a batch line's origin).
    func guardFiles(_ base: OutputGuard = OutputGuard(), label: String = "") throws -> OutputGuard {
        var outputs = base
        for (path, option) in inputFiles() { try outputs.protect(path, as: label + option) }
        func claim(_ path: String, _ option: String, log: Bool = false) throws {
            if log { try outputs.checkLog(path, option: label + option) } else { try outputs.checkReplaceable(path, option: label + option) }
            try outputs.claim(path, as: label + option)
        }
        try claim(output, "--output")
        if let saveEvery, saveEvery > 0 {
            // Every snapshot name there is (OUTPUT-NNNN.EXT), not only the first.
            let url = URL(fileURLWithPath: output), stem = url.deletingPathExtension().lastPathComponent, ext = url.pathExtension
            try outputs.checkFolder(url.deletingLastPathComponent().path, option: label + "--save-every") { name in
                name.hasPrefix(stem + "-") && name.hasSuffix("." + ext)
                    && name.dropFirst(stem.count + 1).dropLast(ext.count + 1).allSatisfy(\.isNumber)
            }
            try claim(numbered(output, saveEvery), "--save-every")
        }
        if let path = checkpointPath { try claim(path, "--checkpoint") }
        if let progressImage {
            _ = try ImageFile.format(of: progressImage)
            try claim(progressImage, "--progress-image")
        }
        if let log { try claim(log, "--log", log: true) }
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
