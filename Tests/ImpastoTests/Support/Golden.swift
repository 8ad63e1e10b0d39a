import Foundation
import XCTest
@testable import Impasto

/// The golden data in ../shared/reference/<name>/ (format: design.md §2).
struct Golden {
    let dir: URL
    let json: [String: Any]

    static let div8 = Golden(name: "vgg19-div8-48x64")

    init(name: String) {
        self.init(dir: TestEnv.shared.appendingPathComponent("reference").appendingPathComponent(name), file: "reference.json")
    }

    init(dir: URL, file: String) {
        self.dir = dir
        let data = try! Data(contentsOf: dir.appendingPathComponent(file))
        json = try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    var width: Int { json["width"] as! Int }
    var height: Int { json["height"] as! Int }
    func number(_ key: String) -> Double { (json[key] as! NSNumber).doubleValue }
    var iterations: Int { json["iters"] as! Int }
    var weightsURL: URL { dir.appendingPathComponent("vgg19.safetensors") }

    func array(_ entry: [String: Any]) -> [Float] {
        let data = try! Data(contentsOf: dir.appendingPathComponent(entry["file"] as! String))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
    func array(_ key: String) -> [Float] { array(json[key] as! [String: Any]) }
    func activation(_ module: Int) -> [Float] { array((json["activations_content"] as! [String: Any])["\(module)"] as! [String: Any]) }
    var activationModules: [Int] { (json["activations_content"] as! [String: Any]).keys.compactMap { Int($0) }.sorted() }
    func styleGram(_ module: Int) -> [Float] { array((json["gram_style"] as! [String: Any])["\(module)"] as! [String: Any]) }

    struct Step { let content, style, tv, total, lr: Double }
    var trajectory: [Step] {
        (json["trajectory"] as! [[String: Any]]).map {
            Step(content: ($0["content"] as! NSNumber).doubleValue, style: ($0["style"] as! NSNumber).doubleValue,
                 tv: ($0["tv"] as! NSNumber).doubleValue, total: ($0["total"] as! NSNumber).doubleValue,
                 lr: ($0["lr"] as! NSNumber).doubleValue)
        }
    }

    func weights() throws -> VGGWeights {
        try VGGWeights(tensors: SafeTensors.read(weightsURL), origin: weightsURL.path)
    }

    /// The seed's loss weights, as the golden run used them.
    var lossWeights: LossWeights {
        LossWeights(content: Float(number("content_weight")), style: Float(number("style_weight")), tv: Float(number("tv_weight")))
    }

    var lossConfig: LossConfig {
        var c = LossConfig()
        c.styleLayers = styleLayerNames.map { try! VGG19.index(of: $0) }
        c.contentLayers = (json["content_layer_names"] as! [String]).map { try! VGG19.index(of: $0) }
        return c
    }

    /// The layers the seed's losses really read (its in-place ReLUs: design.md §1), in the
    /// order of `style_layers`, the module indices the seed names (and `gram_style` keys).
    var styleLayerNames: [String] { json["style_layer_names"] as! [String] }
    var seedStyleModules: [Int] { json["style_layers"] as! [Int] }

    /// The same run in float64 (reference_f64.json): the yardstick for the chaotic trajectory.
    var float64: Golden { Golden(dir: dir, file: "reference_f64.json") }
}

/// How far a run is from the float64 run of the golden reference, beside how far PyTorch's
/// float32 run (the golden data itself) is: design.md §2's yardstick.
struct GoldenDistances: CustomStringConvertible {
    struct Pair { let impasto, pytorch: Double }
    /// Worst relative error of `total` over the steps.
    let trajectory: Pair
    /// Mean absolute difference of the final images, in 8-bit levels.
    let image: Pair

    /// `finalImage`: the run's last X (normalised, planar).
    init(golden: Golden, exact: Golden, totals: [Double], finalImage: [Float]) {
        self.init(golden: golden, exact: exact, totals: totals, finalLevels: Self.levels(finalImage))
    }

    /// `finalLevels`: the run's picture in 8-bit levels, planar.
    init(golden: Golden, exact: Golden, totals: [Double], finalLevels: [Double]) {
        let reference = exact.trajectory.map(\.total)
        func worst(_ run: [Double]) -> Double {
            precondition(run.count == reference.count, "\(run.count) steps, the reference has \(reference.count)")
            return zip(run, reference).map { abs($0 - $1) / abs($1) }.max() ?? 0
        }
        trajectory = Pair(impasto: worst(totals), pytorch: worst(golden.trajectory.map(\.total)))
        let target = Self.levels(exact.array("final_image"))
        func meanLevels(_ x: [Double]) -> Double {
            precondition(x.count == target.count, "\(x.count) values, the reference has \(target.count)")
            return zip(x, target).reduce(0) { $0 + abs($1.0 - $1.1) } / Double(target.count)
        }
        image = Pair(impasto: meanLevels(finalLevels), pytorch: meanLevels(Self.levels(golden.array("final_image"))))
    }

    /// clamp(x·std + mean, 0, 1)·255 of a planar normalised image.
    static func levels(_ x: [Float]) -> [Double] {
        let mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225], plane = x.count / 3
        return x.enumerated().map { i, v in min(max(Double(v) * std[i / plane] + mean[i / plane], 0), 1) * 255 }
    }

    var description: String {
        String(format: "trajectory %.3f%% (PyTorch float32 %.3f%%), final image %.2f levels (PyTorch float32 %.2f)",
               100 * trajectory.impasto, 100 * trajectory.pytorch, image.impasto, image.pytorch)
    }
}
