import Foundation
import Impasto

/// Where a video's frames come from, one at a time (never all in memory).
protocol FrameSource: AnyObject {
    /// The next frame, nil after the last.
    func next() throws -> RGBImage?
    /// Frames per second, as ffmpeg writes it ("30000/1001"), when the source knows.
    var frameRate: String? { get }
}

/// Numbered pictures in a folder (PNG or JPEG), in the order of the number in their names.
final class DirectoryFrames: FrameSource {
    let directory: String
    let files: [String]
    let maxPixels: Int
    private var index = 0
    var frameRate: String? { nil }

    init(_ dir: String, maxPixels: Int) throws {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir) } catch {
            throw FileError("--frames \(InputFile.display(dir)): \(error.localizedDescription)")
        }
        let pictures = names.filter { !$0.hasPrefix(".") && ["png", "jpg", "jpeg"].contains(URL(fileURLWithPath: $0).pathExtension.lowercased()) }
        guard !pictures.isEmpty else { throw FileError("--frames \(InputFile.display(dir)) holds no PNG or JPEG frames") }
        directory = dir
        files = Self.ordered(pictures).map { URL(fileURLWithPath: dir).appendingPathComponent($0).path }
        self.maxPixels = maxPixels
    }

    /// By the last number in the name (frame_9 before frame_10), then by name.
    static func ordered(_ names: [String]) -> [String] {
        func number(_ name: String) -> Int? {
            let stem = URL(fileURLWithPath: name).deletingPathExtension().lastPathComponent
            let digits = stem.reversed().drop { !$0.isNumber }.prefix { $0.isNumber }
            return digits.isEmpty ? nil : Int(String(digits.reversed()).suffix(18))
        }
        return names.sorted { a, b in
            switch (number(a), number(b)) {
            case let (x?, y?) where x != y: return x < y
            default: return a < b
            }
        }
    }

    func next() throws -> RGBImage? {
        guard index < files.count else { return nil }
        defer { index += 1 }
        return try ImageFile.read(files[index], maxPixels: maxPixels)
    }
}

/// A video file decoded by ffmpeg into raw RGB frames through a pipe.
final class FFmpegFrames: FrameSource {
    let width, height: Int
    let frameRate: String?
    let process: Process
    let output: FileHandle
    let errors: Pipe
    let path: String

    init(_ path: String, maxPixels: Int) throws {
        self.path = path
        _ = try InputFile.check(path)
        let info = try FFmpeg.probe(path)
        guard info.width * info.height <= maxPixels else {
            throw FileError("\(InputFile.display(path)): \(info.width)x\(info.height) frames are more than --max-pixels \(maxPixels)")
        }
        (width, height, frameRate) = (info.width, info.height, info.frameRate)
        process = Process()
        process.executableURL = URL(fileURLWithPath: try FFmpeg.tool("ffmpeg"))
        process.arguments = ["-v", "error", "-nostdin", "-i", path, "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
        let pipe = Pipe()
        errors = Pipe()
        process.standardOutput = pipe
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        output = pipe.fileHandleForReading
    }

    deinit { if process.isRunning { process.terminate(); process.waitUntilExit() } }

    func next() throws -> RGBImage? {
        let size = 3 * width * height
        var data = Data()
        while data.count < size {
            guard let chunk = try output.read(upToCount: size - data.count), !chunk.isEmpty else { break }
            data.append(chunk)
        }
        if data.isEmpty {
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                throw FileError("ffmpeg could not decode \(InputFile.display(path)): " + (text.split(separator: "\n").first.map(String.init) ?? "exit status \(process.terminationStatus)"))
            }
            return nil
        }
        guard data.count == size else { throw FileError("ffmpeg stopped in the middle of a frame of \(InputFile.display(path))") }
        return data.withUnsafeBytes { RGBImage(width: width, height: height, bytes: $0.bindMemory(to: UInt8.self)) }
    }
}

/// Debian's `ffmpeg` and `ffprobe` commands, found on PATH (or in $IMPASTO_FFMPEG_DIR).
enum FFmpeg {
    static func tool(_ name: String) throws -> String {
        let env = ProcessInfo.processInfo.environment
        let dirs = (env["IMPASTO_FFMPEG_DIR"].map { [$0] } ?? []) + (env["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        for d in dirs {
            let p = URL(fileURLWithPath: d).appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw FileError("video files need the \(name) command (ffmpeg), which is not installed (Debian: apt-get install ffmpeg); or give --frames DIR and --output-dir DIR")
    }

    /// Runs a tool to the end: its stdout, or its first line of stderr as the error.
    static func run(_ name: String, _ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try tool(name))
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box(), done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); done.signal() }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        done.wait()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let message = String(decoding: errBox.data, as: UTF8.self).split(separator: "\n").first.map(String.init)
            throw FileError("\(name) failed: " + (message ?? "exit status \(p.terminationStatus)"))
        }
        return text
    }

    /// The first video stream's size and frame rate.
    static func probe(_ path: String) throws -> (width: Int, height: Int, frameRate: String?) {
        let text: String
        do {
            text = try run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height,avg_frame_rate",
                                       "-of", "csv=p=0", path])
        } catch let e as FileError where !e.description.contains("not installed") {
            throw FileError("\(InputFile.display(path)) is not a video ffmpeg can read (\(e.description))")
        }
        let fields = text.split(separator: "\n").first?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
        guard fields.count >= 2, let w = Int(fields[0]), let h = Int(fields[1]), w > 0, h > 0 else {
            throw FileError("\(InputFile.display(path)) has no video stream")
        }
        let rate = fields.count > 2 && fields[2] != "0/0" ? fields[2] : nil
        return (w, h, rate)
    }

    /// Encodes numbered PNG frames (`pattern`, printf-style) into `output` atomically (a
    /// temporary file beside it, then a rename); H.264 in yuv420p for .mp4, .mov and .mkv, the
    /// container's default codec otherwise; the audio of `audio` kept when it has some.
    static func encode(frames pattern: String, frameRate: String, audio: String?, to output: String) throws {
        let url = URL(fileURLWithPath: output)
        let ext = url.pathExtension.lowercased()
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.deletingPathExtension().lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp.\(ext)")
        var args = ["-v", "error", "-nostdin", "-y", "-framerate", frameRate, "-i", pattern]
        if let audio { args += ["-i", audio, "-map", "0:v:0", "-map", "1:a?", "-shortest"] }
        if ["mp4", "mov", "mkv", "m4v"].contains(ext) {
            args += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]
        }
        args.append(tmp.path)
        PendingFile.set(tmp.path)
        defer { PendingFile.clear() }
        do { _ = try run("ffmpeg", args) } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
        if rename(tmp.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: tmp)
            throw FileError("\(InputFile.display(output)): cannot move the finished video into place (\(reason))")
        }
    }
}
