import Foundation
import MantaTestSupport
import Synchronization
import Testing

@testable import MantaCLISupport

#if canImport(Glibc)
import Glibc
#endif

/// `manta gc` talks to the agent through `AgentSocket`, a small blocking HTTP/1.1 client: whatever comes back over
/// the socket (the agent's, or whatever listens there) is refused with an error that says what was wrong, never
/// trapped on, never read past its bounds. Each answer comes from a real listener on a unix socket (the agent's kind
/// of socket), byte for byte.
@Suite(.timeLimit(.minutes(1)), .threadsOfItsOwn) struct AgentSocketHostileAnswerTests {
    struct Answer: Decodable, Equatable {
        var ok: Bool
    }

    struct Request: Encodable {
        var dryRun = true
    }

    /// A scripted answer and the phrase its error must carry.
    struct Hostile: CustomTestStringConvertible, Sendable {
        var name: String
        var bytes: [UInt8]
        var reason: String
        var testDescription: String { name }

        init(_ name: String, _ text: String, reason: String) {
            self.name = name
            bytes = Array(text.utf8)
            self.reason = reason
        }

        init(_ name: String, bytes: [UInt8], reason: String) {
            self.name = name
            self.bytes = bytes
            self.reason = reason
        }
    }

    static let hostile: [Hostile] = [
        // Oversized bodies: streamed past the bound, and announced past it.
        Hostile(
            "oversized body", bytes: Array("HTTP/1.1 200 OK\r\n\r\n".utf8) + [UInt8](repeating: 0x20, count: 3 * smallBound),
            reason: "longer than \(smallBound) bytes"),
        Hostile(
            "oversized Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: \(smallBound + 1)\r\n\r\n{}", reason: "longer than \(smallBound) bytes"),
        Hostile("Content-Length past Int", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n{}", reason: "bad Content-Length"),
        // Lying Content-Length.
        Hostile(
            "Content-Length longer than the body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"ok\":true}",
            reason: "ended after 11 of its 100 bytes"),
        Hostile("Content-Length shorter than the body", "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n{\"ok\":true}", reason: "more than its 4 bytes"),
        Hostile("negative Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: -11\r\n\r\n{\"ok\":true}", reason: "bad Content-Length"),
        Hostile("Content-Length not a number", "HTTP/1.1 200 OK\r\nContent-Length: 1e1\r\n\r\n{\"ok\":true}", reason: "bad Content-Length"),
        Hostile(
            "two Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nContent-Length: 3\r\n\r\n{\"ok\":true}", reason: "bad Content-Length"),
        // Bad chunk sizes.
        Hostile("chunk size not hexadecimal", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", reason: "bad chunk size"),
        Hostile("negative chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n{}\r\n0\r\n\r\n", reason: "bad chunk size"),
        Hostile(
            "signed chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+b\r\n{\"ok\":true}\r\n0\r\n\r\n", reason: "bad chunk size"),
        Hostile(
            "chunk size past Int", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFFFF\r\n{}\r\n0\r\n\r\n",
            reason: "bad chunk size"),
        Hostile(
            "chunk size past the answer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\n{}\r\n0\r\n\r\n",
            reason: "bad chunk size"),
        Hostile("empty chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n{}\r\n0\r\n\r\n", reason: "bad chunk size"),
        Hostile(
            "chunk longer than its size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{\"ok\":true}\r\n0\r\n\r\n",
            reason: "longer than its size"),
        // Truncated answers.
        Hostile("nothing at all", "", reason: "closed the connection without answering"),
        Hostile("half a header", "HTTP/1.1 200 OK\r\nContent-Le", reason: "no complete HTTP header"),
        Hostile(
            "chunked answer without its last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n{\"ok\":true}\r\n",
            reason: "ended early"),
        Hostile("header line without a colon", "HTTP/1.1 200 OK\r\nContent-Length 11\r\n\r\n{\"ok\":true}", reason: "without a colon"),
        // Garbage status lines.
        Hostile("no status code", "HELLO\r\n\r\n{\"ok\":true}", reason: "no HTTP status line"),
        Hostile("status code not a number", "HTTP/1.1 abc OK\r\n\r\n{\"ok\":true}", reason: "no HTTP status line"),
        Hostile("status code past Int", "HTTP/1.1 99999999999999999999999 OK\r\n\r\n{\"ok\":true}", reason: "no HTTP status line"),
        Hostile("negative status code", "HTTP/1.1 -200 OK\r\n\r\n{\"ok\":true}", reason: "no HTTP status line"),
        Hostile("status code out of range", "HTTP/1.1 999 OK\r\n\r\n{\"ok\":true}", reason: "no HTTP status line"),
        Hostile("not HTTP", "SSH-2.0-OpenSSH 200 x\r\n\r\n{\"ok\":true}", reason: "no HTTP status line"),
        Hostile(
            "binary garbage", bytes: [0xff, 0x00, 0xfe, 0x20, 0x32, 0x30, 0x30, 0x0d, 0x0a, 0x0d, 0x0a, 0x7b, 0x7d], reason: "no HTTP status line"),
    ]

    /// The bound the tests give the client, so that an oversized answer stays small.
    static let smallBound = 64 << 10

    @Test("a hostile answer is refused with an error saying what is wrong", arguments: hostile)
    func hostileAnswerIsRefused(_ hostile: Hostile) throws {
        let listener = try ScriptedUnixListener(answer: hostile.bytes)
        let socket = AgentSocket(path: listener.path, maximumAnswerBytes: Self.smallBound)
        let error = #expect(throws: AgentSocketError.self) { try socket.post("/v1/local/gc", json: Request(), as: Answer.self) }
        guard case .malformed(_, let reason) = error else {
            Issue.record("\(hostile.name): \(String(describing: error))")
            return
        }
        #expect(reason.contains(hostile.reason), "\(hostile.name): \(reason)")
        #expect(try listener.request().hasPrefix("POST /v1/local/gc HTTP/1.1\r\n"))
    }

    @Test("well-formed answers still read: Content-Length, chunked with extensions, until the end, and an error's message, cut short")
    func wellFormedAnswersRead() throws {
        let answers = [
            "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ok\":true}",
            "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n3;name=value\r\n{\"o\r\n8\r\nk\":true}\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"ok\":true}",
        ]
        for text in answers {
            let listener = try ScriptedUnixListener(answer: Array(text.utf8))
            #expect(try AgentSocket(path: listener.path).post("/v1/local/gc", json: Request(), as: Answer.self) == Answer(ok: true), "\(text)")
        }
        let long = String(repeating: "x", count: 100_000)
        let listener = try ScriptedUnixListener(
            answer: Array("HTTP/1.1 409 Conflict\r\nContent-Length: \(long.count + 24)\r\n\r\n{\"error\":{\"message\":\"\(long)\"}}".utf8))
        let error = #expect(throws: AgentSocketError.self) {
            try AgentSocket(path: listener.path).post("/v1/local/gc", json: Request(), as: Answer.self)
        }
        guard case .refused(_, 409, let message) = error else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(message == String(long.prefix(AgentSocket.maximumMessageCharacters)))
    }
}

/// A unix socket listener that takes one connection, reads its request, writes `answer` byte for byte and closes: a
/// hostile agent. It serves on a thread of its own, never the cooperative pool.
final class ScriptedUnixListener: Sendable {
    let path: String
    private let directory: TemporaryDirectory
    private let received = DispatchSemaphore(value: 0)
    private let requestBytes = Mutex<[UInt8]>([])

    struct CannotListen: Error, CustomStringConvertible {
        let errno: Int32
        var description: String { "cannot listen on a unix socket: errno \(errno)" }
    }

    init(answer: [UInt8]) throws {
        directory = try TemporaryDirectory("manta-socket")
        path = directory.appending("agent.sock")
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw CannotListen(errno: errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8CString)
        precondition(pathBytes.count <= MemoryLayout.size(ofValue: address.sun_path), "the temporary folder's path is too long for a unix socket")
        withUnsafeMutableBytes(of: &address.sun_path) { raw in pathBytes.withUnsafeBytes { raw.copyMemory(from: $0) } }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(listener, 1) == 0 else {
            let error = errno
            close(listener)
            throw CannotListen(errno: error)
        }
        Thread { [self] in
            defer {
                close(listener)
                received.signal()
            }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            defer { close(connection) }
            let request = Self.readRequest(connection)
            requestBytes.withLock { $0 = request }
            var sent = 0
            while sent < answer.count {
                // MSG_NOSIGNAL: a client that gave up early must not end the test process with SIGPIPE.
                let count = answer[sent...].withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard count > 0 else { return }
                sent += count
            }
            shutdown(connection, Int32(SHUT_WR))
        }.start()
    }

    /// The request the client sent, as text, once the answer went out (at most 10 s).
    func request() throws -> String {
        guard received.wait(timeout: .now() + 10) == .success else { return "" }
        received.signal()
        return String(decoding: requestBytes.withLock { $0 }, as: UTF8.self)
    }

    /// The head and as much of the body as its Content-Length says, at most 1 MiB.
    private static func readRequest(_ connection: Int32) -> [UInt8] {
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while request.count < 1 << 20 {
            if let headEnd = request.indices.first(where: { request[$0...].starts(with: Array("\r\n\r\n".utf8)) }) {
                let head = String(decoding: request[..<headEnd], as: UTF8.self).lowercased()
                let length =
                    head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }.flatMap {
                        Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
                    } ?? 0
                if request.count >= headEnd + 4 + length { break }
            }
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            request += buffer[..<count]
        }
        return request
    }
}
