import Foundation

/// The one check every file impasto writes goes through: never an input (by device and inode,
/// so symlinks, hard links and `./` count), never something that is not a regular file (a
/// picture is renamed into place, which would replace a device node, a FIFO or a link; a log
/// may append to a FIFO or a character device such as /dev/null, but never replaces one).
public struct OutputGuard {
    /// The inputs by identity, with the option that named each (for the message).
    private var inputs: [FileIdentity: String] = [:]
    /// The outputs claimed so far, by canonical path and (when they exist) by identity.
    private var claimedPaths: [String: String] = [:]
    private var claimedFiles: [FileIdentity: String] = [:]

    public init() {}

    /// The path a file would have with every symbolic link and `.`/`..` of its folder
    /// resolved: two spellings of one place (`out/o.png`, `link/o.png`) give one answer.
    public static func canonical(_ path: String) -> String {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let dir = url.deletingLastPathComponent().path, name = url.lastPathComponent
        guard let real = realpath(dir, nil) else { return url.path }
        defer { free(real) }
        return URL(fileURLWithPath: String(cString: real)).appendingPathComponent(name).path
    }

    /// Records an output: refused when another output already claimed the same place (by
    /// canonical path, or by identity for files that exist: hard links count).
    public mutating func claim(_ path: String, as label: String) throws {
        let key = Self.canonical(path)
        if let other = claimedPaths[key] { throw FileError("\(label) \(InputFile.display(path)) is also \(other)") }
        var st = stat()
        if stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG {
            if let other = claimedFiles[FileIdentity(st)] { throw FileError("\(label) \(InputFile.display(path)) is also \(other)") }
            claimedFiles[FileIdentity(st)] = "\(label) \(InputFile.display(path))"
        }
        claimedPaths[key] = "\(label) \(InputFile.display(path))"
    }

    /// Whether a folder's canonical path is, or lies inside, another's.
    public static func isInside(_ path: String, _ folder: String) -> Bool {
        let p = canonical(path), f = canonical(folder)
        return p == f || p.hasPrefix(f.hasSuffix("/") ? f : f + "/")
    }

    /// Every entry of `dir` whose name `writes` says the run may write is checked like any
    /// output (`checkReplaceable`): an input or a link among them is refused before any work.
    public func checkFolder(_ dir: String, option: String, writes: (String) -> Bool) throws {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        for name in names.sorted() where writes(name) {
            try checkReplaceable(URL(fileURLWithPath: dir).appendingPathComponent(name).path, option: option)
        }
    }

    /// Records an input (it must exist; see `InputFile.check`).
    public mutating func protect(_ path: String, as option: String) throws {
        let id: FileIdentity
        do { (id, _) = try InputFile.check(path) } catch let e as FileError { throw FileError("\(option) \(e)") }
        if inputs[id] == nil { inputs[id] = "\(option) \(InputFile.display(path))" }
    }

    private func existing(_ path: String) -> stat? {
        var st = stat()
        return lstat(path, &st) == 0 ? st : nil
    }

    private func refuseInput(_ path: String, option: String) throws {
        var st = stat()
        if stat(path, &st) == 0, let input = inputs[FileIdentity(st)] {
            throw FileError("\(option) \(InputFile.display(path)) is the input \(input); impasto never writes over an input")
        }
    }

    /// A picture (or other file) that will be written to a temporary name and renamed to
    /// `path`: its folder must exist, and whatever is at `path` must be a regular file that is
    /// no input.
    public func checkReplaceable(_ path: String, option: String) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var st = stat()
        guard stat(dir, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw FileError("\(option) \(InputFile.display(path)): the folder \(InputFile.display(dir)) does not exist")
        }
        guard let there = existing(path) else { return }
        if there.st_mode & S_IFMT == S_IFLNK {
            throw FileError("\(option) \(InputFile.display(path)) is a symbolic link; impasto writes pictures by renaming a new file into place and will not replace a link")
        }
        if let k = InputFile.kind(there.st_mode) { throw FileError("\(option) \(InputFile.display(path)) is \(k); impasto will not replace it") }
        try refuseInput(path, option: option)
    }

    /// Checks a log's path as `openLog` will, without creating anything (before any work).
    public func checkLog(_ path: String, option: String) throws {
        _ = try logFlags(path, option: option)
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var st = stat()
        guard stat(dir, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw FileError("\(option) \(InputFile.display(path)): the folder \(InputFile.display(dir)) does not exist")
        }
    }

    /// How a log at `path` is opened: truncated (a regular file), appended to (a FIFO or a
    /// character device), or created (0); anything else, and an input, refused.
    private func logFlags(_ path: String, option: String) throws -> Int32 {
        try refuseInput(path, option: option)
        var st = stat()
        guard stat(path, &st) == 0 else { return 0 }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return O_TRUNC
        case S_IFIFO, S_IFCHR: return O_APPEND | O_NONBLOCK
        default: throw FileError("\(option) \(InputFile.display(path)) is \(InputFile.kind(st.st_mode) ?? "not a file"); impasto will not write a log there")
        }
    }

    /// Opens a log: a regular file (through links) is truncated, a FIFO or a character device
    /// is appended to, anything else is refused, and an input never.
    public func openLog(_ path: String, option: String) throws -> LogFile {
        var flags = O_WRONLY | O_CLOEXEC | (try logFlags(path, option: option))
        if flags & O_APPEND == 0 && flags & O_TRUNC == 0 { flags |= O_CREAT | O_EXCL }
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else { throw FileError("\(option) \(InputFile.display(path)): \(InputFile.reason(errno))") }
        if flags & O_NONBLOCK != 0 { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) }  // a FIFO opens only with a reader; then block as usual
        return LogFile(fd: fd, name: "\(option) \(InputFile.display(path))")
    }
}

/// A log being written: each failed write (a full disk) is a one-line error naming the file.
public final class LogFile {
    let fd: Int32
    let name: String
    init(fd: Int32, name: String) { self.fd = fd; self.name = name }
    deinit { close(fd) }

    public func write(_ text: String) throws {
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw FileError("\(name): cannot write the log (\(InputFile.reason(errno)))") }
            done += n
        }
    }
}

/// The temporary file an atomic write is filling, if any, kept where a signal handler can
/// reach it without allocating: a second Ctrl-C or SIGTERM removes it before quitting, so no
/// `.NAME.PID.tmp` is left behind.
package enum PendingFile {
    nonisolated(unsafe) private static let buffer: UnsafeMutablePointer<CChar> = {
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: Int(PATH_MAX) + 1)
        p.initialize(repeating: 0, count: Int(PATH_MAX) + 1)
        return p
    }()

    package static func set(_ path: String) {
        let bytes = Array(path.utf8.prefix(Int(PATH_MAX)))
        buffer[0] = 0
        for (i, b) in bytes.enumerated() where i > 0 { buffer[i] = CChar(bitPattern: b) }
        buffer[bytes.count] = 0
        if let first = bytes.first { buffer[0] = CChar(bitPattern: first) }  // last: the handler sees a whole path or none
    }

    package static func clear() { buffer[0] = 0 }

    /// Async-signal-safe: unlink only.
    package static func removeFromSignalHandler() {
        if buffer[0] != 0 { unlink(buffer) }
    }
}

extension PendingFile {
    /// Removes the temporary files that killed runs left beside `paths`: `.NAME.PID.tmp`,
    /// `.STEM.PID.tmp.EXT` or `.STEM.PID.part.EXT`, for one of these names, whose process is
    /// gone from this machine and which nobody wrote for an hour (so a run on another machine
    /// that shares the folder is never touched while it works).
    package static func removeStale(besides paths: [String]) {
        let byFolder = Dictionary(grouping: paths.map { URL(fileURLWithPath: $0) }) { $0.deletingLastPathComponent().path }
        for (dir, urls) in byFolder {
            let bases = Set(urls.flatMap { [$0.lastPathComponent, $0.deletingPathExtension().lastPathComponent] })
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
            for name in names where name.hasPrefix(".") {
                let parts = name.dropFirst().split(separator: ".", omittingEmptySubsequences: false)
                guard let i = parts.lastIndex(where: { $0 == "tmp" || $0 == "part" }), i >= 2,
                      let pid = pid_t(parts[i - 1]), bases.contains(parts[..<(i - 1)].joined(separator: ".")) else { continue }
                if kill(pid, 0) == 0 || errno == EPERM { continue }  // still running here
                let path = URL(fileURLWithPath: dir).appendingPathComponent(name).path
                var st = stat()
                guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG, time(nil) - st.st_mtim.tv_sec > 3600 else { continue }
                unlink(path)
            }
        }
    }
}
