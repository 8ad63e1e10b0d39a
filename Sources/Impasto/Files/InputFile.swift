import Foundation

/// A file's identity: two paths name the same file (through symlinks, hard links, `./`) when
/// their identities are equal.
package struct FileIdentity: Hashable {
    package let device, inode: UInt64
    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }
}

/// A file that cannot be read or written, in words that name it.
public struct FileError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Every file impasto reads goes through here: it must be a regular file (a FIFO without a
/// writer would block open() forever, a directory or a device is no picture or weights file),
/// and it is read, never memory-mapped (a mapped file that is truncated while read raises
/// SIGBUS). Errors name the path and what is wrong with it, on one line.
package enum InputFile {
    /// A path as it may appear in a one-line message: control characters (a newline in a
    /// file name) escaped.
    package static func display(_ path: String) -> String { ErrorText.escaped(path) }

    /// Why stat or open failed, in words.
    package static func reason(_ code: Int32) -> String {
        switch code {
        case ENOENT: return "no such file"
        case ELOOP: return "too many levels of symbolic links (a link loop?)"
        case EACCES, EPERM: return "permission denied"
        case ENOTDIR: return "a part of the path is not a directory"
        case ENAMETOOLONG: return "the path is too long"
        case ENXIO: return "a FIFO with no reader"
        case ENOSPC: return "no space left on the device"
        default: return String(cString: strerror(code))
        }
    }

    package static func kind(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }

    /// The identity and size of an input, which must be an existing regular file. Opens nothing.
    @discardableResult
    package static func check(_ path: String) throws -> (FileIdentity, Int) {
        var st = stat()
        guard stat(path, &st) == 0 else { throw FileError("\(display(path)): \(reason(errno))") }
        if let k = kind(st.st_mode) { throw FileError("\(display(path)) is \(k), not a file") }
        return (FileIdentity(st), Int(st.st_size))
    }

    /// A regular file opened for reading: opened without blocking (a FIFO swapped in after
    /// `check` cannot hang it), then checked again on the descriptor.
    package final class Reader {
        package let path: String
        package let size: Int
        let fd: Int32

        package init(_ path: String) throws {
            self.path = path
            try InputFile.check(path)
            fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { throw FileError("\(display(path)): \(reason(errno))") }
            var st = stat()
            guard fstat(fd, &st) == 0 else { let e = errno; close(fd); throw FileError("\(display(path)): \(reason(e))") }
            if let k = kind(st.st_mode) { close(fd); throw FileError("\(display(path)) is \(k), not a file") }
            size = Int(st.st_size)
        }

        deinit { close(fd) }

        /// `count` bytes from `offset`; a file that ends early (truncated while read) is an error.
        package func read(at offset: Int, count: Int) throws -> Data {
            guard offset >= 0, count >= 0, count <= size, offset <= size - count else {
                throw FileError("\(display(path)): bytes \(offset)..<\(offset)+\(count) lie past its end (\(size) bytes)")
            }
            var data = Data(count: count)
            var done = 0
            try data.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
                while done < count {
                    let n = pread(fd, raw.baseAddress! + done, count - done, off_t(offset + done))
                    if n < 0 && errno == EINTR { continue }
                    if n < 0 { throw FileError("\(display(path)): \(reason(errno))") }
                    if n == 0 { throw FileError("\(display(path)): the file ended after \(offset + done) bytes (was it truncated while read?)") }
                    done += n
                }
            }
            return data
        }

        /// The whole file, refused beyond `maxBytes`.
        package func readAll(maxBytes: Int) throws -> Data {
            guard size <= maxBytes else {
                throw FileError("\(display(path)) is \(size) bytes, more than the \(maxBytes) such a file can sensibly be")
            }
            return try read(at: 0, count: size)
        }
    }

    /// The whole file (see `Reader`).
    package static func read(_ path: String, maxBytes: Int) throws -> Data {
        try Reader(path).readAll(maxBytes: maxBytes)
    }
}
