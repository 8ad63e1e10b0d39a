import ArgumentParser
import Foundation
import Impasto

/// `stylize --weights`: a file, random weights, or the official file downloaded once.
extension Stylize {
    /// The weights and whether they are random. A demo falls back to random weights when the
    /// official file cannot be had; a real run does not.
    func resolveWeights(_ progress: ProgressDisplay) throws -> (VGGWeights, Bool) {
        if let spec = weights {
            let w = try loadWeights(spec)
            return (w, spec == "random" || spec.hasPrefix("random:"))
        }
        do {
            let url = try WeightsDownload.cachedWeights(progress: downloadProgress(quiet: quiet))
            return (try WeightsFile.load(url), false)
        } catch {
            guard demo else { throw error }
            progress.message("impasto: \(error)")
            progress.message("demo: using random VGG19 weights instead (results are only a rough imitation of the style)")
            return (try VGGWeights.random(seed: 1), true)
        }
    }
}

/// The download's progress line on stderr (`stylize` and `weights fetch`).
func downloadProgress(quiet: Bool) -> (Int64, Int64?) -> Void {
    let start = Date()
    var lastDraw = Date.distantPast
    return { got, total in
        guard !quiet, Date().timeIntervalSince(lastDraw) > 0.2 || got == total else { return }
        lastDraw = Date()
        let mb = Double(got) / 1e6
        let speed = mb / max(Date().timeIntervalSince(start), 1e-3)
        let text: String
        if let total {
            let pct = Double(got) / Double(total) * 100
            let bar = String(repeating: "#", count: Int(pct / 4)) + String(repeating: ".", count: 25 - Int(pct / 4))
            text = String(format: "downloading VGG19 weights [%@] %3.0f%% %.0f/%.0f MB %.1f MB/s", bar, pct, mb, Double(total) / 1e6, speed)
        } else {
            text = String(format: "downloading VGG19 weights %.0f MB %.1f MB/s", mb, speed)
        }
        writeStderr((isatty(STDERR_FILENO) != 0 ? "\r\u{1B}[K" + text : text + "\n"))
        if got == total && isatty(STDERR_FILENO) != 0 { writeStderr("\n") }
    }
}
