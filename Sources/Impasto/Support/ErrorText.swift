import Foundation

/// Errors as people read them: one line, no raw framework codes ("NSCocoaErrorDomain error
/// 512"), control characters escaped, and bounded (a 100 MB argument must not become a
/// 100 MB error line). Every message impasto prints about a failure goes through here.
package enum ErrorText {
    /// The longest message printed; the rest is cut and marked.
    package static let maxCharacters = 600

    /// What went wrong, in words: a POSIX reason where Foundation wraps one, a URL error's
    /// meaning instead of its number, and otherwise the error's own description.
    package static func describe(_ error: Error) -> String {
        if let e = error as? FileError { return e.description }
        if let e = error as? StyleTransferError { return e.description }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return InputFile.reason(Int32(ns.code)) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return InputFile.reason(Int32(underlying.code))
        }
        if ns.domain == NSURLErrorDomain { return urlReason(ns.code) }
        if ns.domain == NSCocoaErrorDomain { return cocoaReason(ns.code) }
        return String(describing: error)
    }

    /// `text` as one bounded line: control characters (newlines, escape sequences) shown as
    /// \xNN, and cut at `maxCharacters`.
    package static func oneLine(_ text: String, limit: Int = maxCharacters) -> String {
        let scalars = text.unicodeScalars
        guard scalars.count > limit else { return escaped(text) }
        var kept = String.UnicodeScalarView()
        kept.append(contentsOf: scalars.prefix(limit))
        return escaped(String(kept)) + "… (\(scalars.count - limit) more characters)"
    }

    /// `text` with its control characters (C0, DEL, C1: newlines, escape sequences) shown as
    /// \xNN; `InputFile.display` shows paths this way too.
    package static func escaped(_ text: String) -> String {
        var out = ""
        for u in text.unicodeScalars {
            if u.value < 0x20 || u.value == 0x7F || (0x80..<0xA0).contains(u.value) {
                out += String(format: "\\x%02x", u.value)
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    static func urlReason(_ code: Int) -> String {
        switch code {
        case NSURLErrorTimedOut: return "the server did not answer in time"
        case NSURLErrorCannotFindHost: return "the server's name could not be resolved"
        case NSURLErrorCannotConnectToHost: return "could not connect to the server"
        case NSURLErrorNetworkConnectionLost: return "the connection was lost"
        case NSURLErrorNotConnectedToInternet: return "no network connection"
        case NSURLErrorBadServerResponse: return "the server's answer was not valid HTTP"
        case NSURLErrorCancelled: return "the download was cancelled"
        case NSURLErrorUnsupportedURL, NSURLErrorBadURL: return "the address is not a supported URL"
        case NSURLErrorSecureConnectionFailed, NSURLErrorServerCertificateUntrusted,
             NSURLErrorServerCertificateHasBadDate, NSURLErrorServerCertificateNotYetValid:
            return "the secure connection failed (certificate or TLS)"
        default: return "network error \(code)"
        }
    }

    static func cocoaReason(_ code: Int) -> String {
        switch code {
        case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return "no such file"
        case NSFileReadNoPermissionError, NSFileWriteNoPermissionError: return "permission denied"
        case NSFileWriteOutOfSpaceError: return "no space left on the device"
        case NSFileWriteVolumeReadOnlyError: return "the file system is read-only"
        case NSFileWriteFileExistsError: return "a file of that name exists"
        case NSFileReadCorruptFileError: return "the file is damaged"
        case NSFileReadTooLargeError: return "the file is too large"
        case NSFileReadUnknownError: return "cannot read it"
        case NSFileWriteUnknownError: return "cannot write it"
        default: return "file error \(code)"
        }
    }
}
