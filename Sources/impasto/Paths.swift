import Foundation

/// "out.png", 100 → "out-0100.png".
func numbered(_ path: String, _ i: Int) -> String {
    let url = URL(fileURLWithPath: path)
    let stem = url.deletingPathExtension().lastPathComponent
    return url.deletingLastPathComponent().appendingPathComponent(String(format: "%@-%04d.%@", stem, i, url.pathExtension)).path
}
