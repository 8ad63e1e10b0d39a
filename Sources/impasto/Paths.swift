import Foundation

/// True when two paths name the same file (or would: same absolute path).
func samePath(_ a: String, _ b: String) -> Bool {
    let ua = URL(fileURLWithPath: a).standardizedFileURL.resolvingSymlinksInPath()
    let ub = URL(fileURLWithPath: b).standardizedFileURL.resolvingSymlinksInPath()
    if ua.path == ub.path { return true }
    var sa = stat(), sb = stat()
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
}

/// "out.png", 100 → "out-0100.png".
func numbered(_ path: String, _ i: Int) -> String {
    let url = URL(fileURLWithPath: path)
    let stem = url.deletingPathExtension().lastPathComponent
    return url.deletingLastPathComponent().appendingPathComponent(String(format: "%@-%04d.%@", stem, i, url.pathExtension)).path
}
