import Foundation

/// What a video's frame folder says about its run: the key, the pass under way and its frames
/// finished, the first frame's balanced loss weights. Written atomically after each frame.
public struct VideoState: Codable, Sendable, Equatable {
    public var key: String
    /// The pass under way (from 1; past the last when all are done) and its frames finished.
    public var pass = 1
    public var done = 0
    /// The video's frames, known once the first pass is done.
    public var frames: Int?
    public var weights: LossWeights?

    public init(key: String) { self.key = key }
}

/// Where the frame loop (`VideoStylization.run`) puts its results and keeps what a resume
/// needs: the stylized frames (read back by the later passes), the content frames of the
/// later passes, the state, each frame's checkpoint.
public protocol FrameSink: AnyObject {
    /// Frame `frame`'s stylized picture (8-bit values).
    func write(_ picture: RGBImage, frame: Int) throws
    func read(frame: Int) throws -> RGBImage
    /// The content frames (at the output size) the later passes start from.
    func keepContent(_ picture: RGBImage, frame: Int) throws
    func content(frame: Int) throws -> RGBImage
    /// The kept content frames are no longer needed.
    func dropContent()
    /// The state with this key, or a fresh one.
    func state(key: String) -> VideoState
    func save(_ state: VideoState) throws
    /// Where frame `frame`'s checkpoint goes; nil: none is kept.
    func checkpoint(frame: Int) -> URL?
}

/// Frames in memory (tests, `tools/video-check`, a caller that encodes them itself). State and
/// content live as long as the sink; no checkpoints.
public final class MemoryFrameSink: FrameSink {
    /// The stylized frames, by index.
    public private(set) var frames: [Int: RGBImage] = [:]
    private var contents: [Int: RGBImage] = [:]
    private var saved: VideoState?
    public init() {}

    /// The frames in order.
    public var ordered: [RGBImage] { frames.keys.sorted().map { frames[$0]! } }

    public func write(_ picture: RGBImage, frame: Int) throws { frames[frame] = picture }
    public func read(frame: Int) throws -> RGBImage {
        guard let p = frames[frame] else { throw StyleTransferError("frame \(frame + 1) has not been stylized") }
        return p
    }
    public func keepContent(_ picture: RGBImage, frame: Int) throws { contents[frame] = picture }
    public func content(frame: Int) throws -> RGBImage {
        guard let p = contents[frame] else { throw StyleTransferError("content frame \(frame + 1) was not kept") }
        return p
    }
    public func dropContent() { contents = [:] }
    public func state(key: String) -> VideoState { saved?.key == key ? saved! : VideoState(key: key) }
    public func save(_ state: VideoState) throws { saved = state }
    public func checkpoint(frame: Int) -> URL? { nil }
}

/// A folder of frames, `frame_000001.png` on, with the run's state (`.impasto-video.json`),
/// each stopped frame's checkpoint (`.frame_NNNNNN.checkpoint`) and the later passes'
/// content frames (`.content/`). Every frame is checked against the job's inputs before it is
/// written (`outputs`).
public final class DirectoryFrameSink: FrameSink {
    public let directory: String
    let outputs: OutputGuard
    let field: String

    /// `outputs`: the job's guard (its inputs); `field` names the folder in messages.
    public init(_ directory: String, outputs: OutputGuard = OutputGuard(), field: String = "outputDir") {
        (self.directory, self.outputs, self.field) = (directory, outputs, field)
    }

    package static let stateName = ".impasto-video.json"
    package static let contentName = ".content"

    /// frame_NNNNNN.png
    public static func isFrameName(_ name: String) -> Bool {
        name.count == 16 && name.hasPrefix("frame_") && name.hasSuffix(".png") && name.dropFirst(6).prefix(6).allSatisfy(\.isNumber)
    }

    /// Names a video writes in its frame folder: frames, their checkpoints, its state, its
    /// work-folder mark and the later passes' content folder.
    package static func writes(_ name: String) -> Bool {
        isFrameName(name) || (name.hasPrefix(".frame_") && name.hasSuffix(".checkpoint"))
            || [stateName, WorkFolder.markName, contentName].contains(name)
    }

    public static func framePath(_ dir: String, _ index: Int) -> String {
        URL(fileURLWithPath: dir).appendingPathComponent(String(format: "frame_%06d.png", index + 1)).path
    }
    static func contentPath(_ dir: String, _ index: Int) -> String {
        URL(fileURLWithPath: dir).appendingPathComponent(String(format: "\(contentName)/frame_%06d.png", index + 1)).path
    }
    package static func stateFile(_ dir: String) -> URL { URL(fileURLWithPath: dir).appendingPathComponent(stateName) }

    public func write(_ picture: RGBImage, frame: Int) throws {
        let path = Self.framePath(directory, frame)
        try outputs.checkReplaceable(path, option: field)  // each frame, not only the first
        try ImageFile.write(picture, to: path)
    }
    public func read(frame: Int) throws -> RGBImage { try ImageFile.read(Self.framePath(directory, frame)) }

    public func keepContent(_ picture: RGBImage, frame: Int) throws {
        let path = Self.contentPath(directory, frame)
        if FileManager.default.fileExists(atPath: path) { return }
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path,
                                                withIntermediateDirectories: true)
        try ImageFile.write(picture, to: path)
    }
    public func content(frame: Int) throws -> RGBImage { try ImageFile.read(Self.contentPath(directory, frame)) }
    public func dropContent() { WorkFolder.removeContent(directory) }

    public func state(key: String) -> VideoState {
        if let data = try? InputFile.read(Self.stateFile(directory).path, maxBytes: 1 << 20),
           let s = try? JSONDecoder().decode(VideoState.self, from: data), s.key == key { return s }
        return VideoState(key: key)
    }
    public func save(_ state: VideoState) throws {
        do { try JSONEncoder().encode(state).write(to: Self.stateFile(directory), options: .atomic) } catch {
            throw FileError("cannot write \(InputFile.display(Self.stateFile(directory).path)): \(ErrorText.describe(error))")
        }
    }
    public func checkpoint(frame: Int) -> URL? {
        URL(fileURLWithPath: directory).appendingPathComponent(String(format: ".frame_%06d.checkpoint", frame + 1))
    }
}

/// A video's frame folder. An output folder is the user's (made when missing, never emptied);
/// the work folder beside a video file is the run's own: made with a mark file, adopted by a
/// rerun only when it has that mark (never a folder or link someone else made), and removed
/// file by file, only the names a video writes, never recursively.
package enum WorkFolder {
    package static let markName = ".impasto-work"

    /// Makes `dir` (and missing folders above it) if it is missing; true when it was made.
    package static func makeIfMissing(_ dir: String, option: String) throws -> Bool {
        var st = stat()
        if lstat(dir, &st) == 0 { return false }
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw FileError("\(option) \(InputFile.display(dir)): cannot make the folder (\(ErrorText.describe(error)))")
        }
        return true
    }

    /// The work folder: made with its mark, or an earlier run's (with the mark) taken over.
    package static func adopt(_ dir: String, option: String) throws -> Bool {
        let mark = URL(fileURLWithPath: dir).appendingPathComponent(markName).path
        var st = stat()
        if lstat(dir, &st) == 0 {
            guard st.st_mode & S_IFMT == S_IFDIR, lstat(mark, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
                throw FileError("\(option) \(InputFile.display(dir)) exists and is not a work folder impasto made; move it away, or give an output folder")
            }
            return false
        }
        _ = try makeIfMissing(dir, option: option)
        let fd = open(mark, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError("\(option) \(InputFile.display(mark)): \(InputFile.reason(errno))") }
        close(fd)
        return true
    }

    /// The later passes' content folder, emptied of frames and removed if nothing else is in it.
    package static func removeContent(_ dir: String) {
        let content = URL(fileURLWithPath: dir).appendingPathComponent(DirectoryFrameSink.contentName).path
        for name in (try? FileManager.default.contentsOfDirectory(atPath: content)) ?? [] where DirectoryFrameSink.isFrameName(name) {
            unlink(URL(fileURLWithPath: content).appendingPathComponent(name).path)
        }
        rmdir(content)
    }

    /// Removes what a video wrote in `dir`, then `dir` if that leaves it empty.
    package static func remove(_ dir: String) {
        var st = stat()
        guard lstat(dir, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else { return }
        removeContent(dir)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        where DirectoryFrameSink.writes(name) && name != DirectoryFrameSink.contentName {
            unlink(URL(fileURLWithPath: dir).appendingPathComponent(name).path)
        }
        rmdir(dir)
    }
}
