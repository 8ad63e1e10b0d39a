import Foundation

/// A job claimed by this process: an exclusive `flock` on OUTPUT.lock, so two batches on one
/// manifest (or two shards given the same index) never run one job twice. The kernel drops
/// the lock when the process ends, however it ends, so a killed run leaves no stale claim.
package final class BatchClaim {
    package let path: String
    private var fd: Int32

    /// The claim, or nil when another process holds it. After the lock is taken the file must
    /// still be the one at `path` (a finished holder removes it): else the claim is tried again.
    package static func take(_ path: String) throws -> BatchClaim? {
        for _ in 0..<8 {
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
            guard fd >= 0 else { throw FileError("cannot claim the job with \(InputFile.display(path)): \(InputFile.reason(errno))") }
            var st = stat()
            guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
                close(fd)
                throw FileError("\(InputFile.display(path)) is not a regular file; impasto uses it to claim the job")
            }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                let e = errno
                close(fd)
                if e == EWOULDBLOCK { return nil }
                throw FileError("cannot lock \(InputFile.display(path)): \(InputFile.reason(e))")
            }
            var now = stat()
            if stat(path, &now) == 0, now.st_dev == st.st_dev, now.st_ino == st.st_ino { return BatchClaim(path: path, fd: fd) }
            close(fd)  // removed or replaced while we waited: take the new one
        }
        return nil
    }

    private init(path: String, fd: Int32) { (self.path, self.fd) = (path, fd) }

    /// Done with the job (finished, failed or stopped): the file goes (while still locked, so no one holds a stale one), then the lock.
    package func release() {
        guard fd >= 0 else { return }
        unlink(path)
        close(fd)
        fd = -1
    }

    deinit { if fd >= 0 { close(fd) } }
}
