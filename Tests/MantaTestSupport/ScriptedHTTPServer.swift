import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A raw HTTP/1.1 listener on 127.0.0.1 with an OS-chosen port that answers each request with whatever
/// `answer` returns, byte for byte, headers included: a hostile peer or hub speaking the real protocol with
/// any numbers it likes. Connections are served one at a time on a thread of their own (never the
/// cooperative pool), and closed after each answer.
public final class ScriptedHTTPServer: Sendable {
    public struct Request: Sendable {
        public var method: String
        public var path: String
        /// Names lowercased.
        public var headers: [String: String]
        public var body: [UInt8]
    }

    public struct Answer: Sendable {
        public var status: Int
        /// Sent as given; `Content-Length` is added from the body unless given here.
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]
        /// How long the connection stays open, silent, after the answer: a peer whose host died mid-answer.
        public var silenceAfter: Duration
        /// Closes the connection without a byte of answer: a peer that idle-closed the connection as the request came.
        public var hangsUp = false

        public init(status: Int = 200, headers: [(name: String, value: String)] = [], body: [UInt8] = [], silenceAfter: Duration = .zero) {
            self.status = status
            self.headers = headers
            self.body = body
            self.silenceAfter = silenceAfter
        }

        public static var hangUp: Answer {
            var answer = Answer()
            answer.hangsUp = true
            return answer
        }

        public static func json(_ text: String) -> Answer {
            Answer(headers: [("Content-Type", "application/json")], body: Array(text.utf8))
        }
    }

    public struct CannotListen: Error, CustomStringConvertible {
        public let errno: Int32
        public var description: String { "the scripted server cannot listen on 127.0.0.1: errno \(errno)" }
    }

    public let port: Int
    private let listener: Int32
    private let received = Mutex<[Request]>([])
    private let stopped = Atomic<Bool>(false)

    public init(answer: @escaping @Sendable (Request) -> Answer) throws {
        let (listener, port) = try Self.loopbackSocket()
        guard Glibc.listen(listener, 64) == 0 else {
            let error = errno
            close(listener)
            throw CannotListen(errno: error)
        }
        self.listener = listener
        self.port = port
        Thread { [self] in serve(answer) }.start()
    }

    /// A TCP socket bound to 127.0.0.1 on a port the system chose, and that port.
    public static func loopbackSocket() throws(CannotListen) -> (descriptor: Int32, port: Int) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw CannotListen(errno: errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else {
            let error = errno
            close(descriptor)
            throw CannotListen(errno: error)
        }
        return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// A loopback port nothing listens on now, for a server that must come back on the same port after a restart.
    public static func freeLoopbackPort() throws -> Int {
        let (descriptor, port) = try loopbackSocket()
        close(descriptor)
        return port
    }

    /// Every request answered so far, in order.
    public var requests: [Request] { received.withLock { $0 } }

    /// Stops accepting; the thread ends with the listening socket. Its thread holds the server, so call this when done.
    public func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func serve(_ answer: @Sendable (Request) -> Answer) {
        while !stopped.load(ordering: .relaxed) {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else {
                if errno == EINTR { continue }
                return
            }
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            if let request = Self.read(connection) {
                received.withLock { $0.append(request) }
                let answer = answer(request)
                if !answer.hangsUp { Self.write(answer, to: connection) }
                Self.waitQuietly(answer.silenceAfter, unlessStopped: stopped)
            }
            close(connection)
        }
    }

    /// The request head and as much body as its `Content-Length` says (at most 64 MiB); nil if the client went away first.
    private static func read(_ connection: Int32) -> Request? {
        var bytes = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        var head: (end: Int, lines: [Substring])?
        var bodyLength = 0
        while head.map({ bytes.count < $0.end + bodyLength }) ?? true {
            let count = recv(connection, &buffer, buffer.count, 0)
            guard count > 0 else { return nil }
            bytes += buffer[0..<count]
            if head == nil, let end = bytes.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound {
                let lines = String(decoding: bytes[..<end], as: UTF8.self).split(separator: "\r\n")
                head = (end, lines)
                let length = lines.first { $0.lowercased().hasPrefix("content-length:") }.flatMap {
                    Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces))
                }
                bodyLength = min(length ?? 0, 64 << 20)
            }
        }
        guard let head, let requestLine = head.lines.first else { return nil }
        let parts = requestLine.split(separator: " ")
        var headers: [String: String] = [:]
        for line in head.lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Request(
            method: parts.first.map(String.init) ?? "", path: parts.dropFirst().first.map(String.init) ?? "", headers: headers,
            body: Array(bytes[head.end..<head.end + bodyLength])
        )
    }

    private static func waitQuietly(_ duration: Duration, unlessStopped stopped: borrowing Atomic<Bool>) {
        let end = ContinuousClock.now + duration
        while ContinuousClock.now < end, !stopped.load(ordering: .relaxed) { usleep(20_000) }
    }

    private static func write(_ answer: Answer, to connection: Int32) {
        var head = "HTTP/1.1 \(answer.status) Scripted\r\nConnection: close\r\n"
        for (name, value) in answer.headers { head += "\(name): \(value)\r\n" }
        if !answer.headers.contains(where: { $0.name.lowercased() == "content-length" }) { head += "Content-Length: \(answer.body.count)\r\n" }
        let bytes = Array((head + "\r\n").utf8) + answer.body
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return }
            sent += count
        }
    }
}
