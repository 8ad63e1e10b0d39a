import Foundation

/// A batch manifest: JSON lines, one job each, with the command line's long option names
/// (`{"content": "a.jpg", "style": ["s.jpg"], "output": "out/a.png", "iterations": 300}`), or
/// a folder of pictures. Each entry becomes option settings, merged over the batch's defaults
/// into an argument list that the command line's option groups parse (an unknown name is the
/// parser's own error).
public enum BatchManifest {
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
    public struct Setting: Equatable, Sendable {
        public let name: String
        public let values: [String]?
        public init(_ name: String, _ values: [String]?) { (self.name, self.values) = (name, values) }
    }

    /// One job of a manifest: where it is (`line 3`, or a picture's name) and its settings,
    /// which are read when asked for (a bad line fails alone).
    public struct Entry: Sendable {
        public let origin: String
        let line: String?
        let picture: (content: String, output: String)?
        public func settings() throws -> [Setting] {
            if let line { return try BatchManifest.settings(line) }
            return [Setting("content", [picture!.content]), Setting("output", [picture!.output])]
        }
    }

    /// The manifest's lines, blank ones and `#` comments aside (`\r\n` line ends too).
    public static func entries(manifest path: String) throws -> [Entry] {
        let data = try InputFile.read(path, maxBytes: 1 << 28)
        guard let text = String(data: data, encoding: .utf8) else { throw FileError("\(InputFile.display(path)) is not UTF-8 text") }
        return text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated().compactMap { i, raw in
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)  // JSON Lines allows \r\n
            return line.isEmpty || line.hasPrefix("#") ? nil : Entry(origin: "line \(i + 1)", line: line, picture: nil)
        }
    }

    /// Every picture of `folder`, each a job whose output is NAME.png in `outputs`.
    public static func entries(pictures folder: String, outputs: String) throws -> [Entry] {
        try ImageFile.pictureNames(in: folder, field: "contentDir").map { name in
            let stem = URL(fileURLWithPath: name).deletingPathExtension().lastPathComponent
            return Entry(origin: name, line: nil, picture: (URL(fileURLWithPath: folder).appendingPathComponent(name).path,
                                                            URL(fileURLWithPath: outputs).appendingPathComponent(stem + ".png").path))
        }
    }

    /// The settings of one line: a string or number is the option's value, true a flag, a list
    /// of strings a repeated option (`style`), a list of numbers one comma-separated value
    /// (`style-blend`). Names are stylize's long names (`_` may stand for `-`).
    public static func settings(_ line: String) throws -> [Setting] {
        let object: [String: Value]
        do { object = try JSONDecoder().decode([String: Value].self, from: Data(line.utf8)) } catch {
            throw SettingError(nil, "not a JSON object of options (\(Self.reason(error)))")
        }
        return try object.sorted { $0.key < $1.key }.map { key, value in
            let name = key.replacingOccurrences(of: "_", with: "-")
            guard name.range(of: "^[a-z][a-z0-9-]*$", options: .regularExpression) != nil else {
                throw SettingError(nil, "'\(key)' is not an option name")
            }
            guard !batchOnly.contains(name) else { throw SettingError(nil, "--\(name) is the batch's, not a job's: give it on the command line") }
            switch value {
            case .bool(let on): return Setting(name, on ? [] : nil)
            case .list(let items):
                let texts = items.compactMap(\.text)
                guard texts.count == items.count, !texts.isEmpty else { throw SettingError(nil, "\(key): a list of strings or of numbers") }
                if items.allSatisfy({ if case .number = $0 { return true } else { return false } }) {
                    return Setting(name, [texts.joined(separator: ",")])
                }
                return Setting(name, texts)
            default: return Setting(name, value.text.map { [$0] } ?? [])
            }
        }
    }

    /// Options a job cannot set: the batch runs on one device.
    public static let batchOnly: Set<String> = ["device"]

    /// Command-line arguments grouped as settings ("--name v1 v2", "--name=v", flags).
    public static func group(_ arguments: [String]) throws -> [Setting] {
        var out: [Setting] = []
        for a in arguments {
            if a.hasPrefix("--") {
                let body = a.dropFirst(2)
                if let eq = body.firstIndex(of: "=") {
                    out.append(Setting(String(body[..<eq]), [String(body[body.index(after: eq)...])]))
                } else {
                    out.append(Setting(String(body), []))
                }
            } else if let last = out.popLast() {
                out.append(Setting(last.name, (last.values ?? []) + [a]))
            } else {
                throw SettingError(nil, "'\(a)' is not an option: stylize options for every job go after the manifest, as --NAME VALUE")
            }
        }
        return out
    }

    /// The defaults with the line's settings in place of any of the same name.
    public static func merge(_ defaults: [Setting], _ line: [Setting]) -> [String] {
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

