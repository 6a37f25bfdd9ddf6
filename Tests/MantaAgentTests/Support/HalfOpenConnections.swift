import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Connections that send half a request line and stall, as an attacker exhausting a server's descriptors would,
/// each from a chosen loopback source address (all of 127.0.0.0/8 is this machine), so per-client caps can be told
/// apart from the overall one. Blocking calls: use them through `blocking`.
final class HalfOpenConnections: @unchecked Sendable {
    private(set) var descriptors: [Int32] = []
    /// Connections the OS refused or timed out while opening.
    private(set) var failedToOpen = 0

    /// Opens up to `count` connections to `127.0.0.1:port`, spread over `sources` round-robin, each sending `text`
    /// (half a request line unless told otherwise) and nothing more; gives up at `deadline`.
    func open(
        _ count: Int, to port: Int, from sources: [String], sending text: String = "GET /v1/chunks/sha256:", deadline: ContinuousClock.Instant
    ) {
        for index in 0..<count where ContinuousClock.now < deadline {
            if let fd = Self.connect(to: port, from: sources[index % sources.count]) {
                descriptors.append(fd)
                _ = text.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            } else {
                failedToOpen += 1
            }
        }
    }

    /// How many of them the server has not closed: an end of stream or a reset counts as closed; bytes are read away.
    func stillOpen() -> Int {
        descriptors.filter { !Self.closedByPeer($0) }.count
    }

    /// Reads each connection until the server closes it (or a read waits 2 s); the bytes read in all.
    func drain() -> Int {
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        for fd in descriptors {
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            while case let count = recv(fd, &buffer, buffer.count, 0), count > 0 { total += count }
        }
        return total
    }

    func closeAll() {
        for fd in descriptors { close(fd) }
        descriptors = []
    }

    deinit { closeAll() }

    private static func connect(to port: Int, from source: String) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        // Bounds a connect the server's backlog holds back.
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var local = address(source, port: 0)
        var remote = address("127.0.0.1", port: port)
        let ok = withUnsafePointer(to: &local) { local in
            withUnsafePointer(to: &remote) { remote in
                local.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } == 0
                    && remote.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                        == 0
            }
        }
        guard ok else {
            close(fd)
            return nil
        }
        return fd
    }

    private static func address(_ host: String, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }

    private static func closedByPeer(_ fd: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count == 0 { return true }
            if count < 0 { return errno != EAGAIN && errno != EWOULDBLOCK }
        }
    }
}

/// One raw HTTP/1.1 exchange over loopback: sends `request` as written, returns what the server answered until it
/// closed or `timeout` passed. For requests no well-behaved client would send.
func rawExchange(port: Int, _ request: [UInt8], timeout: Duration = .seconds(5)) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EMFILE) }
    defer { close(fd) }
    var remote = sockaddr_in()
    remote.sin_family = sa_family_t(AF_INET)
    remote.sin_port = in_port_t(UInt16(port)).bigEndian
    inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
    let connected = withUnsafePointer(to: &remote) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    var receiveTimeout = timeval(tv_sec: 1, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receiveTimeout, socklen_t(MemoryLayout<timeval>.size))
    var sent = 0
    while sent < request.count {
        let count = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        // The server may answer and close before it has read everything: what it answered is the result.
        guard count > 0 else { break }
        sent += count
    }
    var answer: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        let count = recv(fd, &buffer, buffer.count, 0)
        if count > 0 {
            answer += buffer[..<count]
        } else if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
            break
        }
    }
    return String(decoding: answer, as: UTF8.self)
}
