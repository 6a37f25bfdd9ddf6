import MantaStore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A blocking HTTP/1.1 POST to the agent that owns a store, over its local socket: how `manta gc` works while
/// an agent runs without linking the network stack into `manta` (docs/architecture.md, "The command line is two
/// executables"). One request per connection (`Connection: close`); the answer is read to the end, bounded.
public struct AgentSocket: Sendable {
    public let path: String
    /// The biggest answer read (`defaultMaximumAnswerBytes` unless a test asks for less).
    let maximumAnswerBytes: Int

    init(path: String, maximumAnswerBytes: Int = Self.defaultMaximumAnswerBytes) {
        self.path = path
        self.maximumAnswerBytes = maximumAnswerBytes
    }

    /// Where an agent owning the store at `storeRoot` listens unless told otherwise; the same as the agent's
    /// `AgentConfiguration.defaultSocketPath` (MantaAgent), which `manta` does not link.
    public static func defaultPath(storeRoot: String) -> String { "\(storeRoot)/agent.sock" }

    /// The biggest answer read: a GC plan lists every chunk it frees (about 80 bytes each).
    static let defaultMaximumAnswerBytes = 256 << 20
    /// The most of an error answer's text repeated in the error.
    static let maximumMessageCharacters = 2000

    /// The agent listening on `path`, or nil when none does (no socket, or one left by an agent that is gone).
    public static func listening(at path: String) -> AgentSocket? {
        guard let descriptor = try? connect(path) else { return nil }
        close(descriptor)
        return AgentSocket(path: path)
    }

    /// Sends `body` as JSON and decodes the 200 answer as `Answer`; any other status is thrown with the agent's message.
    public func post<Answer: Decodable>(_ target: String, json body: some Encodable, as answer: Answer.Type) throws -> Answer {
        try decode(try exchange("POST", target, body: Array(try JSONEncoder().encode(body))), as: answer)
    }

    private func decode<Answer: Decodable>(_ reply: (status: Int, body: [UInt8]), as answer: Answer.Type) throws -> Answer {
        guard reply.status == 200 else {
            let message =
                (try? JSONDecoder().decode(ErrorBody.self, from: Data(reply.body)))?.error.message ?? String(decoding: reply.body, as: UTF8.self)
            throw AgentSocketError.refused(socket: path, status: reply.status, message: String(message.prefix(Self.maximumMessageCharacters)))
        }
        do {
            return try JSONDecoder().decode(answer, from: Data(reply.body))
        } catch {
            throw AgentSocketError.malformed(socket: path, reason: "\(error)")
        }
    }

    /// One request and its answer's status and body.
    func exchange(_ method: String, _ target: String, body: [UInt8]) throws -> (status: Int, body: [UInt8]) {
        let descriptor = try Self.connect(path)
        defer { close(descriptor) }
        let head =
            "\(method) \(target) HTTP/1.1\r\nHost: manta\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        try send(Array(head.utf8) + body, to: descriptor)
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw AgentSocketError.failed(socket: path, reason: String(cString: strerror(errno))) }
            guard count > 0 else { break }
            answer += buffer[..<count]
            guard answer.count <= maximumAnswerBytes else {
                throw AgentSocketError.malformed(socket: path, reason: "the answer is longer than \(maximumAnswerBytes) bytes")
            }
        }
        return try parse(answer)
    }

    /// The status line's code and the body: de-chunked when the agent sent it in chunks, else exactly as long as its
    /// `Content-Length` says (or everything up to the end without one).
    private func parse(_ answer: [UInt8]) throws -> (status: Int, body: [UInt8]) {
        let separator = Array("\r\n\r\n".utf8)
        guard let end = answer.indices.first(where: { answer[$0...].starts(with: separator) }) else {
            throw AgentSocketError.malformed(
                socket: path, reason: answer.isEmpty ? "the agent closed the connection without answering" : "no complete HTTP header")
        }
        let lines = String(decoding: answer[..<end], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusFields = lines[0].split(separator: " ", maxSplits: 2)
        guard statusFields.count >= 2, statusFields[0].hasPrefix("HTTP/1."), statusFields[1].count == 3, let status = Int(statusFields[1]),
            (100...599).contains(status)
        else {
            throw AgentSocketError.malformed(socket: path, reason: "no HTTP status line")
        }
        let body = Array(answer[(end + separator.count)...])
        var chunked = false
        var declaredLength: Int?
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else {
                throw AgentSocketError.malformed(socket: path, reason: "a header line without a colon")
            }
            let name = line[..<colon].lowercased()
            let value = String(line[line.index(after: colon)...]).trimmingWhitespace
            if name == "transfer-encoding" { chunked = chunked || value.lowercased().contains("chunked") }
            guard name == "content-length" else { continue }
            guard value.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), let length = Int(value),
                declaredLength == nil || declaredLength == length
            else {
                throw AgentSocketError.malformed(socket: path, reason: "a bad Content-Length (\(value.prefix(40)))")
            }
            declaredLength = length
        }
        if chunked { return (status, try dechunk(body)) }
        guard let declaredLength else { return (status, body) }
        guard declaredLength <= maximumAnswerBytes else {
            throw AgentSocketError.malformed(socket: path, reason: "the answer is longer than \(maximumAnswerBytes) bytes")
        }
        guard body.count == declaredLength else {
            throw AgentSocketError.malformed(
                socket: path,
                reason: body.count < declaredLength
                    ? "the answer ended after \(body.count) of its \(declaredLength) bytes" : "the answer has more than its \(declaredLength) bytes")
        }
        return (status, body)
    }

    /// The body of a chunked answer: each chunk a hexadecimal size line, that many bytes and CRLF, up to a chunk of size 0.
    private func dechunk(_ body: [UInt8]) throws -> [UInt8] {
        var output: [UInt8] = []
        var position = 0
        while let lineEnd = body[position...].firstIndex(of: UInt8(ascii: "\n")) {
            let sizeText = String(
                String(decoding: body[position..<lineEnd], as: UTF8.self).split(separator: ";", omittingEmptySubsequences: false)[0]
            ).trimmingWhitespace
            guard !sizeText.isEmpty, sizeText.count <= 16, sizeText.allSatisfy({ $0.isHexDigit }), let size = Int(sizeText, radix: 16),
                size <= body.count - lineEnd - 1
            else {
                throw AgentSocketError.malformed(socket: path, reason: "a bad chunk size in the answer")
            }
            guard size > 0 else { return output }
            let dataEnd = lineEnd + 1 + size
            output += body[(lineEnd + 1)..<dataEnd]
            guard body[dataEnd...].starts(with: Array("\r\n".utf8)) else {
                throw AgentSocketError.malformed(socket: path, reason: "a chunk of the answer is longer than its size")
            }
            position = dataEnd + 2
        }
        throw AgentSocketError.malformed(socket: path, reason: "the chunked answer ended early")
    }

    private func send(_ bytes: [UInt8], to descriptor: Int32) throws {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw AgentSocketError.failed(socket: path, reason: String(cString: strerror(errno))) }
            sent += count
        }
    }

    private static func connect(_ path: String) throws -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw AgentSocketError.failed(socket: path, reason: String(cString: strerror(errno))) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8CString)
        guard bytes.count <= MemoryLayout.size(ofValue: address.sun_path) else {
            close(descriptor)
            throw AgentSocketError.failed(
                socket: path, reason: "the path is longer than a unix socket's \(MemoryLayout.size(ofValue: address.sun_path) - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in bytes.withUnsafeBytes { raw.copyMemory(from: $0) } }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw AgentSocketError.failed(socket: path, reason: reason)
        }
        return descriptor
    }

    /// How the agent's HTTP server words an error: `{"error": {"message": …}}`.
    private struct ErrorBody: Decodable {
        struct Detail: Decodable { var message: String }
        var error: Detail
    }
}

public enum AgentSocketError: Error, CustomStringConvertible, Equatable {
    case refused(socket: String, status: Int, message: String)
    case failed(socket: String, reason: String)
    case malformed(socket: String, reason: String)

    public var description: String {
        switch self {
        case .refused(let socket, let status, let message): "the agent on \(socket) refused the request (HTTP \(status)): \(message)"
        case .failed(let socket, let reason): "cannot talk to the agent on \(socket): \(reason)"
        case .malformed(let socket, let reason):
            "the agent on \(socket) answered something unreadable (\(reason)); are `manta` and the agent from the same build?"
        }
    }
}
