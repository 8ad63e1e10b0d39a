import Foundation

/// A minimal HTTP/1.0 server on 127.0.0.1 serving files from a map, for download tests.
/// It answers until stopped; each request gets the whole file (or 404).
final class LoopbackServer: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    private let files: [String: Data]
    private var running = true

    /// Files served one byte every `trickleInterval` seconds (a misbehaving server).
    private let trickle: Set<String>
    private let trickleInterval: TimeInterval

    init(files: [String: Data], trickle: Set<String> = [], trickleInterval: TimeInterval = 0.5) throws {
        self.files = files
        self.trickle = trickle
        self.trickleInterval = trickleInterval
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 8) == 0 else { throw NSError(domain: "LoopbackServer", code: Int(errno)) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.fd = fd
        port = UInt16(bigEndian: addr.sin_port)
        Thread.detachNewThread { [self] in serve() }
    }

    func url(_ name: String) -> String { "http://127.0.0.1:\(port)/\(name)" }

    private func serve() {
        while running {
            let client = accept(fd, nil, nil)
            if client < 0 { return }
            var request = [UInt8](repeating: 0, count: 4096)
            let n = read(client, &request, request.count)
            let line = String(decoding: request.prefix(max(n, 0)), as: UTF8.self).split(separator: "\r\n").first ?? ""
            let path = line.split(separator: " ").dropFirst().first.map { String($0.dropFirst()) } ?? ""
            var response: Data
            if trickle.contains(path), let body = files[path] {
                let header = Data("HTTP/1.0 200 OK\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
                _ = header.withUnsafeBytes { send(client, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
                for byte in body {  // bounded by the body; ends when the client hangs up
                    var b = byte
                    if send(client, &b, 1, Int32(MSG_NOSIGNAL)) <= 0 || !running { break }  // no SIGPIPE when the client gives up
                    usleep(UInt32(trickleInterval * 1e6))
                }
                close(client)
                continue
            }
            if let body = files[path] {
                response = Data("HTTP/1.0 200 OK\r\nContent-Length: \(body.count)\r\nContent-Type: application/octet-stream\r\n\r\n".utf8) + body
            } else {
                response = Data("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".utf8)
            }
            response.withUnsafeBytes { raw in
                var off = 0
                while off < raw.count {
                    let w = send(client, raw.baseAddress! + off, raw.count - off, Int32(MSG_NOSIGNAL))
                    if w <= 0 { break }
                    off += w
                }
            }
            close(client)
        }
    }

    func stop() {
        running = false
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
