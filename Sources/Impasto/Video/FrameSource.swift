import Foundation

/// Where a video's frames come from, one at a time (a file's or a folder's never all in memory).
public protocol FrameSource: AnyObject {
    /// The next frame, nil after the last.
    func next() throws -> RGBImage?
    /// Frames per second, as ffmpeg writes it ("30000/1001"), when the source knows.
    var frameRate: String? { get }
}

/// Numbered pictures in a folder (PNG or JPEG), in the order of the number in their names.
public final class DirectoryFrames: FrameSource {
    public let directory: String
    public let files: [String]
    let maxPixels: Int
    private var index = 0
    public var frameRate: String? { nil }

    public init(_ dir: String, maxPixels: Int) throws {
        let pictures = try ImageFile.pictureNames(in: dir, field: "frames")
        directory = dir
        files = Self.ordered(pictures).map { URL(fileURLWithPath: dir).appendingPathComponent($0).path }
        self.maxPixels = maxPixels
    }

    /// By the last number in the name (frame_9 before frame_10), then by name.
    public static func ordered(_ names: [String]) -> [String] {
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

    public func next() throws -> RGBImage? {
        guard index < files.count else { return nil }
        defer { index += 1 }
        return try ImageFile.read(files[index], maxPixels: maxPixels)
    }
}

/// A video file decoded by ffmpeg into raw RGB frames through a pipe, upright (ffmpeg applies
/// the stream's rotation; the frame size is the displayed one, and ffmpeg is told it too).
public final class FFmpegFrames: FrameSource {
    public let width, height: Int
    public let frameRate: String?
    let process: Process
    let output: Int32
    let errors: Pipe
    let path: String
    private let outputPipe: Pipe

    /// `shouldStop` is asked while ffprobe runs: true ends it (`ToolInterrupted`).
    public init(_ path: String, maxPixels: Int, shouldStop: () -> Bool = { false }) throws {
        self.path = path
        _ = try InputFile.check(path)
        let info = try FFmpeg.probe(path, shouldStop: shouldStop)
        guard info.width * info.height <= maxPixels else {
            throw SettingError("maxPixels", "is \(maxPixels): the frames of \(InputFile.display(path)) are \(info.width)x\(info.height)")
        }
        (width, height, frameRate) = (info.width, info.height, info.frameRate)
        process = Process()
        process.executableURL = URL(fileURLWithPath: try FFmpeg.tool("ffmpeg"))
        process.arguments = ["-v", "error", "-nostdin", "-i", FFmpeg.url(path), "-map", "0:v:0", "-vf", "scale=\(width):\(height)",
                             "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
        outputPipe = Pipe()
        errors = Pipe()
        process.standardOutput = outputPipe
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        output = outputPipe.fileHandleForReading.fileDescriptor
    }

    deinit { if process.isRunning { process.terminate(); process.waitUntilExit() } }

    public func next() throws -> RGBImage? {
        let size = 3 * width * height
        var data = Data(count: size)
        var got = 0
        try data.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
            while got < size {
                let n = read(output, raw.baseAddress! + got, size - got)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw FileError("reading ffmpeg's frames of \(InputFile.display(path)): \(InputFile.reason(errno))") }
                if n == 0 { break }
                got += n
            }
        }
        if got == 0 {
            let text = FFmpeg.readAll(errors.fileHandleForReading.fileDescriptor)
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw FileError("ffmpeg could not decode \(InputFile.display(path)): " + (FFmpeg.firstLine(text) ?? "exit status \(process.terminationStatus)"))
            }
            return nil
        }
        guard got == size else { throw FileError("ffmpeg stopped in the middle of a frame of \(InputFile.display(path))") }
        return data.withUnsafeBytes { RGBImage(width: width, height: height, bytes: $0.bindMemory(to: UInt8.self)) }
    }
}

/// A run of ffmpeg or ffprobe stopped by Ctrl-C or SIGTERM (the tool ended, its file removed).
public struct ToolInterrupted: Error, CustomStringConvertible, Sendable {
    public let tool: String
    public var description: String { "stopped while \(tool) was running" }
}

/// Debian's `ffmpeg` and `ffprobe` commands, found on PATH (or in $IMPASTO_FFMPEG_DIR). Every
/// path reaches them as `file:` and an absolute path, so no name is read as a protocol
/// (`http:`, `pipe:`, `subfile,,`) or an option (a leading `-`).
public enum FFmpeg {
    public static func tool(_ name: String) throws -> String {
        let env = ProcessInfo.processInfo.environment
        let dirs = (env["IMPASTO_FFMPEG_DIR"].map { [$0] } ?? []) + (env["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        for d in dirs {
            let p = URL(fileURLWithPath: d).appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw FileError("video files need the \(name) command (ffmpeg), which is not installed (Debian: apt-get install ffmpeg); or give --frames DIR and --output-dir DIR")
    }

    /// A local path as ffmpeg's URL.
    public static func url(_ path: String) -> String { "file:" + URL(fileURLWithPath: path).standardizedFileURL.path }

    /// The containers impasto encodes into, by extension (checked before any frame is done).
    public static let containers = ["mp4", "m4v", "mov", "mkv", "webm", "avi", "gif"]

    public static func checkOutput(_ path: String) throws {
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        guard containers.contains(ext) else {
            throw SettingError("output", "\(InputFile.display(path)): impasto encodes video as " + containers.map { "." + $0 }.joined(separator: ", ")
                               + "; give one of these extensions (or an output folder for frames)")
        }
    }

    static func firstLine(_ text: String) -> String? {
        text.split(separator: "\n").first.map { ErrorText.oneLine(String($0), limit: 300) }
    }

    /// Everything left on a descriptor (EINTR retried).
    static func readAll(_ fd: Int32) -> String {
        var data = Data(), buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs a tool to the end: its stdout, or its first line of stderr as the error. Both pipes
    /// are drained by poll (no deadlock on a full pipe, EINTR retried); Ctrl-C or SIGTERM ends
    /// the tool and throws `ToolInterrupted`.
    public static func run(_ name: String, _ arguments: [String], shouldStop: () -> Bool = { false }) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try tool(name))
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let fds = [out.fileHandleForReading.fileDescriptor, err.fileHandleForReading.fileDescriptor]
        var collected = [Data(), Data()], open = [true, true]
        var buffer = [UInt8](repeating: 0, count: 65536)
        while open.contains(true) {
            if shouldStop() {
                p.terminate()
                p.waitUntilExit()
                throw ToolInterrupted(tool: name)
            }
            var polls = (0..<2).filter { open[$0] }.map { pollfd(fd: fds[$0], events: Int16(POLLIN), revents: 0) }
            let ready = poll(&polls, nfds_t(polls.count), 200)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { continue }
            for q in polls where q.revents != 0 {
                let i = fds.firstIndex(of: q.fd)!
                let n = buffer.withUnsafeMutableBytes { read(q.fd, $0.baseAddress!, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { open[i] = false } else { collected[i].append(contentsOf: buffer[0..<n]) }
            }
        }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw FileError("\(name) failed: " + (firstLine(String(decoding: collected[1], as: UTF8.self)) ?? "exit status \(p.terminationStatus)"))
        }
        return String(decoding: collected[0], as: UTF8.self)
    }

    /// The first video stream's size as displayed (its rotation applied: a portrait phone
    /// video stored as 1920x1080 with a 90° rotation is 1080x1920) and frame rate.
    public static func probe(_ path: String, shouldStop: () -> Bool = { false }) throws -> (width: Int, height: Int, frameRate: String?) {
        let text: String
        do {
            text = try run("ffprobe", ["-v", "error", "-select_streams", "v:0",
                                       "-show_entries", "stream=width,height,avg_frame_rate:stream_tags=rotate:stream_side_data=rotation",
                                       "-of", "json", url(path)], shouldStop: shouldStop)
        } catch let e as FileError where !e.description.contains("not installed") {
            throw FileError("\(InputFile.display(path)) is not a video ffmpeg can read (\(e.description))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              let stream = (object["streams"] as? [[String: Any]])?.first,
              let w = stream["width"] as? Int, let h = stream["height"] as? Int, w > 0, h > 0 else {
            throw FileError("\(InputFile.display(path)) has no video stream")
        }
        var rotation = 0.0
        if let r = (stream["tags"] as? [String: Any])?["rotate"] as? String, let v = Double(r) { rotation = v }
        for side in stream["side_data_list"] as? [[String: Any]] ?? [] {
            if let v = side["rotation"] as? Double { rotation = v } else if let v = side["rotation"] as? Int { rotation = Double(v) }
        }
        let quarterTurns = Int((rotation / 90).rounded())
        let (width, height) = quarterTurns % 2 != 0 ? (h, w) : (w, h)
        let rate = (stream["avg_frame_rate"] as? String).flatMap { (try? VideoSettings.checkedRate($0)) }
        return (width, height, rate)
    }

    /// Encodes numbered PNG frames (`pattern`, printf-style) into `output` atomically (a
    /// temporary file beside it, then a rename); H.264 in yuv420p for .mp4, .mov and .mkv, the
    /// container's default codec otherwise; the audio of `audio` kept when it has some.
    public static func encode(frames pattern: String, frameRate: String, audio: String?, to output: String, shouldStop: () -> Bool = { false }) throws {
        let url = URL(fileURLWithPath: output)
        let ext = url.pathExtension.lowercased()
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.deletingPathExtension().lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp.\(ext)")
        var args = ["-v", "error", "-nostdin", "-y", "-framerate", frameRate, "-f", "image2", "-i", Self.url(pattern)]
        if let audio { args += ["-i", Self.url(audio), "-map", "0:v:0", "-map", "1:a?", "-shortest"] }
        if ["mp4", "mov", "mkv", "m4v"].contains(ext) {
            args += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]
        }
        args.append(Self.url(tmp.path))
        PendingFile.removeStale(besides: [output])
        PendingFile.set(tmp.path)
        defer { PendingFile.clear() }
        do { _ = try run("ffmpeg", args, shouldStop: shouldStop) } catch {
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

/// Frames already in memory (tests, `tools/video-check`, a caller's own decoder).
public final class MemoryFrames: FrameSource {
    let frames: [RGBImage]
    private var index = 0
    public let frameRate: String?
    public init(_ frames: [RGBImage], frameRate: String? = nil) { (self.frames, self.frameRate) = (frames, frameRate) }
    public func next() throws -> RGBImage? {
        guard index < frames.count else { return nil }
        defer { index += 1 }
        return frames[index]
    }
}
