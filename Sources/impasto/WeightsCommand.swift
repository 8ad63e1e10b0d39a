import ArgumentParser
import Foundation
import Impasto

/// `weights`: the VGG19 file in the cache. fetch (from the official address or mirrors, each
/// download checked against the same SHA-256, or imported from a file), verify, path.
struct Weights: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The VGG19 weights in the cache: fetch, verify, path.",
        discussion: """
        impasto fetches the official weights (548 MB) once into its cache ($XDG_CACHE_HOME/impasto, else \
        ~/.cache/impasto); every address is held to the SHA-256 prefix in the official name \
        (vgg19-dcbb9e9d.pth), so a mirror that serves another file is refused, never kept.
        """,
        subcommands: [Fetch.self, Verify.self, Path.self])

    /// The addresses: --mirror (in order), else IMPASTO_WEIGHTS_URL's, else the official one.
    static func source(mirrors: [String]) throws -> WeightsDownload.Source {
        var source = WeightsDownload.Source.fromEnvironment()
        if !mirrors.isEmpty {
            source.urls = try mirrors.map { text in
                guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? "") else {
                    throw ValidationError("--mirror '\(text)' is not an http or https address")
                }
                return url
            }
        }
        return source
    }

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download the weights into the cache (or import a file with --from).")
        @Option(help: "An address to try, in order (repeat it); default: the official address (or IMPASTO_WEIGHTS_URL's).")
        var mirror: [String] = []
        @Option(help: "Import this file instead of downloading (checked like a download; the file is only read).")
        var from: String?
        @Flag(help: "No progress display.") var quiet = false

        func validate() throws { _ = try Weights.source(mirrors: mirror) }

        func run() throws {
            guarded {
                let source = try Weights.source(mirrors: mirror)
                if let from {
                    let file = try WeightsDownload.importFile(from, source: source)
                    print(file.path)
                    return
                }
                let progress = ProgressDisplay(total: 0, quiet: quiet)
                let already = FileManager.default.fileExists(atPath: source.cachedFile.path)
                let file = try WeightsDownload.cachedWeights(source: source, progress: downloadProgress(quiet: quiet))
                if already { progress.message("already in the cache") }
                print(file.path)
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check the cached weights against their SHA-256 (exit 1 when they do not match).")
        func run() throws {
            guarded {
                let v = try WeightsDownload.verify(source: .fromEnvironment())
                guard v.matches else {
                    throw WeightsError("\(InputFile.display(v.file.path)) is damaged: its SHA-256 is \(v.sha256); remove it and run impasto weights fetch")
                }
                print("ok \(v.sha256) \(v.file.path)")
            }
        }
    }

    struct Path: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Where the cache is, and the weights file in it (if any).")
        func run() throws {
            let source = WeightsDownload.Source.fromEnvironment()
            print("cache: \(source.cacheDirectory.path)")
            let file = source.cachedFile
            if let size = (try? FileManager.default.attributesOfItem(atPath: file.path))?[.size] as? Int {
                print(String(format: "weights: %@ (%.1f MB)", file.path, Double(size) / 1e6))
            } else {
                print("weights: \(file.path) (not fetched yet: impasto weights fetch)")
            }
        }
    }
}
