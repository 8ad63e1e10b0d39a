import Foundation

/// Ruder et al.'s temporal settings: which earlier frames a frame is held to, and how hard.
public struct TemporalSettings: Hashable, Codable, Sendable {
    /// The temporal loss weight (on the mean of c·(x − t)² over X's normalised values).
    public var weight: Float = TemporalSettings.defaultWeight
    /// Distances of the earlier frames each frame is compared with (1: the frame before;
    /// 1,2,4: Ruder's long-term consistency).
    public var frames: [Int] = [1, 2, 4]
    public var flow = FlowSettings()

    public static let defaultWeight: Float = 1000

    public init() {}
}

/// For each frame of a video, what the temporal loss and the start need: the optical flow to
/// each earlier frame of `settings.frames` (backward, current → earlier) and back (forward),
/// their forward-backward consistency, the earlier stylized frames warped to this one, and
/// Ruder's long-term weights folding them into one target: c′ₖ = max(cₖ − Σ_{j<k} c′ⱼ, 0).
/// Keeps the grey pyramids of the last few content frames only.
package final class TemporalGuide {
    package let settings: TemporalSettings
    package let flow: OpticalFlow
    package var width: Int { flow.width }
    package var height: Int { flow.height }
    private var pyramids: [Int: OpticalFlow.Pyramid] = [:]

    /// Flows a user brings for a pair (current, earlier): backward (current → earlier) and
    /// forward (earlier → current), at any size (resized to the frames').
    package typealias FlowProvider = UserFlows

    package init(context: CLContext, width: Int, height: Int, settings: TemporalSettings) throws {
        self.settings = settings
        flow = try OpticalFlow(kernels: FlowKernels(context: context), width: width, height: height, settings: settings.flow)
    }

    /// The content frame `index` (at the frames' size), remembered for the pairs it is in.
    package func add(frame index: Int, content: RGBImage) throws {
        pyramids[index] = try flow.pyramid(content)
        let keep = settings.frames.max() ?? 1
        for old in pyramids.keys where old < index - keep { pyramids[old] = nil }
    }

    /// What frame `index` starts from and is held to.
    package struct Guide {
        /// The stylized frame before, warped to this one.
        package let start: RGBImage
        package let target: TemporalTarget
        /// The share of pixels some earlier frame is reliable at.
        package let covered: Double
    }

    /// `stylized[j]`: the earlier stylized frames (at least index − 1). `userFlows` are used
    /// where they give a pair, else the flow is computed from the remembered content frames.
    package func guide(for index: Int, stylized: [Int: RGBImage], userFlows: FlowProvider? = nil) throws -> Guide {
        precondition(index > 0, "the first frame has no earlier frame")
        let (w, h) = (width, height), n = w * h
        var start: RGBImage?
        var target = [Float](repeating: 0, count: 3 * n), weight = [Float](repeating: 0, count: n)
        for k in settings.frames.sorted() where index - k >= 0 {
            guard let earlier = stylized[index - k] else { continue }
            let backward: Buffer, forward: Buffer
            if let given = try userFlows?(index, index - k) {
                backward = try flow.upload(given.backward.resized(width: w, height: h))
                forward = try flow.upload(given.forward.resized(width: w, height: h))
            } else {
                guard let a = pyramids[index], let b = pyramids[index - k] else { continue }
                backward = try flow.flow(from: a, to: b)
                forward = try flow.flow(from: b, to: a)
            }
            let reliable = try flow.reliability(backward: backward, forward: forward)
            let warped = try flow.warp(earlier, by: backward)
            if k == 1 { start = warped }
            for p in 0..<n {
                let c = max(reliable[p] - weight[p], 0)  // what closer frames have not covered
                guard c > 0 else { continue }
                let total = weight[p] + c
                for ch in 0..<3 {
                    target[3 * p + ch] = (target[3 * p + ch] * weight[p] + warped.pixels[3 * p + ch] * c) / total
                }
                weight[p] = total
            }
        }
        guard let start else { preconditionFailure("frame \(index) needs the stylized frame before it") }
        // Where no earlier frame is reliable the weight is 0; the target there is the start.
        for p in 0..<n where weight[p] == 0 { for ch in 0..<3 { target[3 * p + ch] = start.pixels[3 * p + ch] } }
        let covered = Double(weight.reduce(0, +)) / Double(n)
        return Guide(start: start, target: TemporalTarget(picture: RGBImage(width: w, height: h, pixels: target), weights: weight,
                                                          weight: settings.weight), covered: covered)
    }

    /// Multi-pass (Ruder et al.'s §3.3): frame `current` (content) in a later pass, with its
    /// neighbour in the pass's direction already redone (`neighbourStylized`, content
    /// `neighbour`) and its own result of the pass before (`own`). It starts from
    /// δ·c·(the neighbour warped) + (1 − δ·c)·own and is held to the warped neighbour where c is 1.
    package func passGuide(current: RGBImage, neighbour: RGBImage, neighbourStylized: RGBImage, own: RGBImage,
                          delta: Float = 0.5) throws -> Guide {
        let a = try flow.pyramid(current), b = try flow.pyramid(neighbour)
        let backward = try flow.flow(from: a, to: b), forward = try flow.flow(from: b, to: a)
        let reliable = try flow.reliability(backward: backward, forward: forward)
        let warped = try flow.warp(neighbourStylized, by: backward)
        var start = own.pixels
        for p in 0..<reliable.count {
            let m = delta * reliable[p]
            for ch in 0..<3 { start[3 * p + ch] = m * warped.pixels[3 * p + ch] + (1 - m) * own.pixels[3 * p + ch] }
        }
        return Guide(start: RGBImage(width: width, height: height, pixels: start),
                     target: TemporalTarget(picture: warped, weights: reliable, weight: settings.weight),
                     covered: Double(reliable.reduce(0, +)) / Double(reliable.count))
    }
}
