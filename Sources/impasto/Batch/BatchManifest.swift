import ArgumentParser
import Foundation
import Impasto

/// A batch's jobs as argument lists: the batch's own defaults, then each manifest line's
/// options (which replace a default of the same name), each parsed by the job's option groups
/// (`PictureLine` or `VideoLine`): an unknown name is the parser's own error.
enum BatchManifest {
    /// A JSON value of a manifest line.
    enum Value: Decodable {
        case string(String), number(Double), bool(Bool), list([Value])

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .bool(b) }
            else if let n = try? c.decode(Double.self) { self = .number(n) }
            else if let s = try? c.decode(String.self) { self = .string(s) }
            else if let l = try? c.decode([Value].self) { self = .list(l) }
            else { throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a string, number, boolean or list") }
        }

        var text: String? {
            switch self {
            case .string(let s): return s
            case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int(n)) : String(n)
            default: return nil
            }
        }
    }

    /// An option and its values as the command line spells them; nil values: a flag turned off.
    typealias Setting = (name: String, values: [String]?)

    /// The settings of one line: a string or number is the option's value, true a flag, a list
    /// of strings a repeated option (`style`), a list of numbers one comma-separated value
    /// (`style-blend`). Names are stylize's long names (`_` may stand for `-`).
    static func settings(_ line: String) throws -> [Setting] {
        let object: [String: Value]
        do { object = try JSONDecoder().decode([String: Value].self, from: Data(line.utf8)) } catch {
            throw ValidationError("not a JSON object of options (\(Self.reason(error)))")
        }
        return try object.sorted { $0.key < $1.key }.map { key, value in
            let name = key.replacingOccurrences(of: "_", with: "-")
            guard name.range(of: "^[a-z][a-z0-9-]*$", options: .regularExpression) != nil else {
                throw ValidationError("'\(key)' is not an option name")
            }
            guard !batchOnly.contains(name) else { throw ValidationError("--\(name) is the batch's, not a job's: give it on the command line") }
            switch value {
            case .bool(let on): return (name, on ? [] : nil)
            case .list(let items):
                let texts = items.compactMap(\.text)
                guard texts.count == items.count, !texts.isEmpty else { throw ValidationError("\(key): a list of strings or of numbers") }
                if items.allSatisfy({ if case .number = $0 { return true } else { return false } }) {
                    return (name, [texts.joined(separator: ",")])
                }
                return (name, texts)
            default: return (name, [value.text!])
            }
        }
    }

    /// Options a job cannot set: the batch runs on one device.
    static let batchOnly: Set<String> = ["device"]

    /// Command-line arguments grouped as settings ("--name v1 v2", "--name=v", flags).
    static func group(_ arguments: [String]) throws -> [Setting] {
        var out: [Setting] = []
        for a in arguments {
            if a.hasPrefix("--") {
                let body = a.dropFirst(2)
                if let eq = body.firstIndex(of: "=") {
                    out.append((String(body[..<eq]), [String(body[body.index(after: eq)...])]))
                } else {
                    out.append((String(body), []))
                }
            } else if let last = out.popLast() {
                out.append((last.name, (last.values ?? []) + [a]))
            } else {
                throw ValidationError("'\(a)' is not an option: stylize options for every job go after the manifest, as --NAME VALUE")
            }
        }
        return out
    }

    /// The defaults with the line's settings in place of any of the same name.
    static func merge(_ defaults: [Setting], _ line: [Setting]) -> [String] {
        let replaced = Set(line.map(\.name))
        return (defaults.filter { !replaced.contains($0.name) } + line).flatMap { s -> [String] in
            guard let values = s.values else { return [] }
            if values.isEmpty { return ["--" + s.name] }
            if values.count == 1 { return ["--" + s.name, values[0]] }
            return values.flatMap { ["--" + s.name, $0] }  // a repeated option
        }
    }

    /// A decoding error in a few words.
    static func reason(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let c): return c.underlyingError.map { ErrorText.describe($0) } ?? c.debugDescription
        case DecodingError.typeMismatch(_, let c): return c.debugDescription
        default: return "\(error)"
        }
    }
}

/// A batch picture job's line: its files and its picture options.
struct PictureLine: ParsableArguments {
    @OptionGroup var picture: PictureOptions
    @OptionGroup var options: StylizeOptions
}

/// A batch video job's line.
struct VideoLine: ParsableArguments {
    @OptionGroup var video: VideoOptions
    @OptionGroup var options: StylizeOptions
}

extension BatchManifest {
    /// A job from its merged arguments: a video when they name frames or an input file.
    static func job(origin: String, arguments: [String]) throws -> BatchJob {
        if arguments.contains("--frames") || arguments.contains("--input") {
            let line = try VideoLine.parse(arguments)
            return BatchJob(origin: origin, work: .video(try line.video.job(line.options)))
        }
        let line = try PictureLine.parse(arguments)
        return BatchJob(origin: origin, work: .picture(try line.picture.job(line.options)))
    }
}
