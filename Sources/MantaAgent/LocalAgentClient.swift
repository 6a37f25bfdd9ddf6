import AsyncHTTPClient
import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Talks to the agent that owns a store, over its local socket, so one process writes the store.
public struct LocalAgentClient: Sendable {
    public let socketPath: String

    /// A client for the agent listening on `socketPath`, or nil when no agent does (no socket, or a stale one).
    public static func connect(socketPath: String) -> LocalAgentClient? {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8CString)
        guard path.count <= MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in path.withUnsafeBytes { raw.copyMemory(from: $0) } }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return connected == 0 ? LocalAgentClient(socketPath: socketPath) : nil
    }

    /// Has the agent pull the model; `progress` sees its progress lines. Throws the agent's error, if any.
    public func pull(_ request: LocalModelRequest, progress: (UInt64, UInt64) -> Void) async throws -> LocalPullEvent.Outcome {
        let response = try await post(request, to: LocalModelRoutes.pullPath)
        var pending: [UInt8] = []
        for try await part in response.body {
            pending += part.readableBytesView
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[..<newline]
                pending.removeSubrange(...newline)
                let event = try JSONDecoder().decode(LocalPullEvent.self, from: Data(line))
                if let error = event.error { throw LocalAgentError.failed(socket: socketPath, message: error) }
                if let outcome = event.outcome { return outcome }
                if let total = event.totalBytes, let done = event.completedBytes { progress(done, total) }
            }
        }
        throw LocalAgentError.failed(socket: socketPath, message: "the agent closed the connection before the pull ended; see its log")
    }

    /// Has the agent register the model from hub metadata alone.
    public func add(_ request: LocalModelRequest) async throws -> LocalAddOutcome {
        let response = try await post(request, to: LocalModelRoutes.addPath)
        let body = try await response.body.collect(upTo: 16 << 20)
        return try JSONDecoder().decode(LocalAddOutcome.self, from: Data(body.readableBytesView))
    }

    /// The response of a POST that the agent accepted (status 200); anything else is thrown with the agent's message.
    private func post(_ request: LocalModelRequest, to path: String) async throws -> HTTPClientResponse {
        guard let socket = socketPath.addingPercentEncoding(withAllowedCharacters: .alphanumerics) else {
            throw LocalAgentError.unusableSocketPath(socketPath)
        }
        var call = HTTPClientRequest(url: "http+unix://\(socket)\(path)")
        call.method = .POST
        call.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(request)))
        let response = try await HTTPClient.shared.execute(call, timeout: .hours(24))
        guard response.status == .ok else {
            let body = try await response.body.collect(upTo: 1 << 20)
            let message = (try? JSONDecoder().decode(ErrorBody.self, from: Data(body.readableBytesView)))?.error.message ?? String(buffer: body)
            throw LocalAgentError.refused(socket: socketPath, status: Int(response.status.code), message: message)
        }
        return response
    }

    /// How the agent's HTTP server words an error: `{"error": {"message": …}}`.
    private struct ErrorBody: Decodable {
        struct Detail: Decodable { var message: String }
        var error: Detail
    }
}

public enum LocalAgentError: Error, CustomStringConvertible, Equatable {
    case unusableSocketPath(String)
    case refused(socket: String, status: Int, message: String)
    case failed(socket: String, message: String)

    public var description: String {
        switch self {
        case .unusableSocketPath(let path): "the agent socket path \(path) cannot be used in a URL"
        case .refused(let socket, let status, let message): "the agent on \(socket) refused the request (HTTP \(status)): \(message)"
        case .failed(_, let message): message
        }
    }
}
