import Foundation
import XCTest
@testable import Impasto

/// The golden data in ../shared/reference/<name>/ (format: design.md §2).
struct Golden {
    let dir: URL
    let json: [String: Any]

    static let div8 = Golden(name: "vgg19-div8-48x64")

    init(name: String) {
        dir = TestEnv.shared.appendingPathComponent("reference").appendingPathComponent(name)
        let data = try! Data(contentsOf: dir.appendingPathComponent("reference.json"))
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

    var lossConfig: LossConfig {
        var c = LossConfig()
        c.contentWeight = Float(number("content_weight"))
        c.styleWeight = Float(number("style_weight"))
        c.tvWeight = Float(number("tv_weight"))
        c.styleLayers = (json["style_layers"] as! [Int])
        c.contentLayers = (json["content_layers"] as! [Int])
        return c
    }
}
