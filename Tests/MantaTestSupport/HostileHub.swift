import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A hub that lies: a real listener on 127.0.0.1 (OS-chosen port) that reads each request's head and sends the
/// answer `respond` makes for its path, byte for byte as given (no framework to tidy a malformed header), one
/// request per connection; `respond` is given the path and the hub's own endpoint. Each connection is served on a
/// thread of its own; `close` stops accepting.
public final class HostileHub: Sendable {
    public struct Answer: Sendable {
        public var status = "200 OK"
        public var headers: [(String, String)] = []
        public var body: [UInt8] = []
        /// Sent instead of a Content-Length matching `body` when set.
        public var contentLength: String?
        /// Bytes sent a second apart after the head: a body that never completes.
        public var trickle = false

        public init(
            status: String = "200 OK", headers: [(String, String)] = [], body: [UInt8] = [], contentLength: String? = nil, trickle: Bool = false
        ) {
            self.status = status
            self.headers = headers
            self.body = body
            self.contentLength = contentLength
            self.trickle = trickle
        }

        public static func json(_ text: String, headers: [(String, String)] = []) -> Answer {
            Answer(headers: [("Content-Type", "application/json")] + headers, body: Array(text.utf8))
        }
    }

    public let port: Int
    private let listener: Int32
    private let requests = Mutex<[String]>([])
    private let closed = Atomic<Bool>(false)

    public var endpoint: String { "http://127.0.0.1:\(port)" }
    /// The paths asked for so far, in order.
    public var paths: [String] { requests.withLock { $0 } }

    public init(_ respond: @escaping @Sendable (_ path: String, _ endpoint: String) -> Answer) throws {
        let listening = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listening, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listening, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listening, 64) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listening, $0, &length) } }
        port = Int(UInt16(bigEndian: address.sin_port))
        listener = listening
        Thread { [self] in
            while !closed.load(ordering: .relaxed) {
                let connection = accept(listening, nil, nil)
                guard connection >= 0 else { return }
                Thread { [self] in serve(connection, respond) }.start()
            }
        }.start()
    }

    public func close() {
        closed.store(true, ordering: .relaxed)
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
    }

    private func serve(_ connection: Int32, _ respond: @Sendable (String, String) -> Answer) {
        defer { Glibc.close(connection) }
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while !head.suffix(4).elementsEqual(Array("\r\n\r\n".utf8)), head.count < 64 * 1024 {
            guard recv(connection, &byte, 1, 0) == 1 else { return }
            head.append(byte)
        }
        let line = String(decoding: head.prefix { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
        let parts = line.split(separator: " ")
        let path = parts.count > 1 ? String(parts[1]) : "/"
        requests.withLock { $0.append(path) }
        let answer = respond(path, endpoint)
        var text = "HTTP/1.1 \(answer.status)\r\nConnection: close\r\n"
        for (name, value) in answer.headers { text += "\(name): \(value)\r\n" }
        text += "Content-Length: \(answer.contentLength ?? String(answer.body.count))\r\n\r\n"
        guard send(Array(text.utf8), on: connection) else { return }
        if answer.trickle {
            for _ in 0..<600 where !closed.load(ordering: .relaxed) {
                guard send([UInt8(ascii: " ")], on: connection) else { return }
                sleep(1)
            }
            return
        }
        _ = send(answer.body, on: connection)
    }

    private func send(_ bytes: [UInt8], on connection: Int32) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.send(connection, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return false }
            sent += count
        }
        return true
    }
}

extension HostileHub {
    public static let commit = String(repeating: "c", count: 40)

    /// Model info naming `commit`, for any repository.
    public static func modelInfo(_ path: String) -> Answer? {
        guard path.hasPrefix("/api/models/"), path.contains("/revision/") else { return nil }
        return .json(#"{"id":"acme/evil","sha":"\#(commit)","siblings":[]}"#)
    }

    /// A tree entry of a plain file as the tree API writes it.
    public static func entry(_ path: String, size: String, oid: String = String(repeating: "b", count: 40)) -> String {
        #"{"type":"file","oid":"\#(oid)","size":\#(size),"path":"\#(path)"}"#
    }
}
