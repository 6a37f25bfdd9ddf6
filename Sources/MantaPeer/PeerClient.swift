import AsyncHTTPClient
import Foundation
import MantaStore
import MantaTransfer
import MantaWire
import NIOCore
import NIOHTTP1

/// Fetches from other nodes' `PeerServer`s. Everything it returns is verified: chunk bytes hash to their
/// id, manifests to their digest, bitmaps have the announced size (`uncheckedChunk` leaves the hash to its caller).
public struct PeerClient: Sendable {
    public let httpClient: HTTPClient
    public let token: String?
    public let downloadLimiter: RateLimiter?
    public let timeout: TimeAmount
    /// How long a peer may send nothing (no answer yet, or no next part of its body; waits for the download limit
    /// not counted) before the request is given up: a peer whose host died sends no reset, and would hold every
    /// request it had to `timeout`.
    public let stallTimeout: Duration
    /// A swarm answer is small and made from memory, and every round of a pull waits for all of them: a peer that
    /// has not answered within this is left out of the round. (A refused connection, as to a killed agent, is not
    /// an answer: the HTTP client tries to connect again until the request's timeout.)
    static let swarmStallTimeout: Duration = .seconds(3)
    /// A watch on the clock the stall timeout is measured on.
    private let stallWatch: @Sendable () -> StallWatch

    public init(
        httpClient: HTTPClient = .shared, token: String?, downloadLimiter: RateLimiter? = nil, timeout: TimeAmount = .seconds(30),
        stallTimeout: Duration = .seconds(10), clock: some Clock<Duration> = ContinuousClock()
    ) {
        self.httpClient = httpClient
        self.token = token
        self.downloadLimiter = downloadLimiter
        self.timeout = timeout
        self.stallTimeout = stallTimeout
        stallWatch = { StallWatch(clock: clock) }
    }

    /// A chunk's bytes, checked against its id.
    public func chunk(_ id: ChunkID, length: UInt64, from peer: PeerAddress, priority: FetchPriority = .preheat) async throws -> [UInt8] {
        let bytes = try await getWithHeaders(
            peer, chunkPath(id), what: "chunk \(id)", limit: try chunkLimit(id, length, from: peer), priority: priority
        ).0
        guard UInt64(bytes.count) == length else { throw PeerError.badBytes(peer: peer.description, chunk: id.prefixed) }
        try Self.check(SHA256Hasher.hash(bytes), of: id, from: peer)
        return bytes
    }

    /// A chunk's bytes, `length` of them, into `buffer` (aligned and reused, so that storing them needs no fresh
    /// memory and no copy), not yet hashed: for a caller that hashes them together with other work (a file's SHA-256,
    /// another thread's chunk) and must hand their digest to `check(_:of:from:)` before it uses a byte.
    package func uncheckedChunk(
        _ id: ChunkID, length: UInt64, from peer: PeerAddress, priority: FetchPriority, into buffer: ReceiveBuffer
    ) async throws {
        let limit = try chunkLimit(id, length, from: peer)
        buffer.reset(capacity: limit)
        _ = try await getWithHeaders(peer, chunkPath(id), what: "chunk \(id)", limit: limit, priority: priority, into: buffer)
        guard buffer.count == limit else { throw PeerError.badBytes(peer: peer.description, chunk: id.prefixed) }
    }

    /// A chunk's length as a byte limit. It comes from a manifest or a swarm answer, which a peer may have sent:
    /// bounded before it sizes anything.
    private func chunkLimit(_ id: ChunkID, _ length: UInt64, from peer: PeerAddress) throws -> Int {
        guard length <= UInt64(ChunkEncoding.maximumChunkSize) else {
            throw PeerError.garbage(
                peer: peer.description, what: "length for chunk \(id): \(length) bytes, above the largest chunk (\(ChunkEncoding.maximumChunkSize))")
        }
        return Int(length)
    }

    private func chunkPath(_ id: ChunkID) -> String { "/v1/chunks/\(id.prefixed)" }

    /// Throws `badBytes` unless `actual`, the SHA-256 of the bytes a peer sent for chunk `id`, is that id.
    package static func check(_ actual: Digest, of id: ChunkID, from peer: PeerAddress) throws {
        guard actual == id else { throw PeerError.badBytes(peer: peer.description, chunk: id.prefixed) }
    }

    /// A manifest, checked against its digest and for safety.
    public func manifest(_ digest: Digest, from peer: PeerAddress) async throws -> Manifest {
        let bytes = try await get(peer, "/v1/manifests/\(digest.prefixed)", what: "manifest \(digest)", limit: Manifest.maximumEncodedSize)
        do {
            return try Manifest.decode(bytes, expectedDigest: digest)
        } catch {
            throw PeerError.garbage(peer: peer.description, what: "manifest \(digest) (\(error))")
        }
    }

    /// Which chunks of the manifest the peer has.
    public func have(_ digest: Digest, chunkCount: Int, from peer: PeerAddress) async throws -> ChunkBitmap {
        let (bytes, headers) = try await getWithHeaders(
            peer, "/v1/manifests/\(digest.prefixed)/have", what: "chunk bitmap of \(digest)", limit: chunkCount / 8 + 1)
        guard let count = headers.first(name: ChunkBitmap.countHeader.rawName).flatMap(Int.init), count == chunkCount,
            let bitmap = ChunkBitmap(bytes: bytes, count: count)
        else { throw PeerError.garbage(peer: peer.description, what: "chunk bitmap of \(digest)") }
        return bitmap
    }

    /// Which of `ids` the peer has, in the same order.
    public func have(_ ids: [ChunkID], from peer: PeerAddress) async throws -> ChunkBitmap {
        let (bytes, headers) = try await getWithHeaders(peer, "/v1/have", what: "chunk bitmap", limit: ids.count / 8 + 1, body: ids.flatMap(\.bytes))
        guard let count = headers.first(name: ChunkBitmap.countHeader.rawName).flatMap(Int.init), count == ids.count,
            let bitmap = ChunkBitmap(bytes: bytes, count: count)
        else { throw PeerError.garbage(peer: peer.description, what: "chunk bitmap") }
        return bitmap
    }

    /// What the peer has of a revision, and what it is pulling, with every number checked (`SwarmStatus.validated`):
    /// chunk entries end within `fileSizes` where given.
    public func swarm(_ query: SwarmQuery, fileSizes: [String: UInt64]? = nil, from peer: PeerAddress) async throws -> SwarmStatus {
        let body = try JSONEncoder().encode(query)
        let what = "swarm status of \(query.repo)@\(query.commit)"
        let (bytes, _) = try await getWithHeaders(
            peer, "/v1/swarm", what: what, limit: SwarmStatus.maximumEncodedSize, body: Array(body),
            stallTimeout: min(stallTimeout, Self.swarmStallTimeout))
        do {
            return try SwarmStatus.decode(bytes, answering: query, maximumChunkSize: UInt64(ChunkEncoding.maximumChunkSize), fileSizes: fileSizes)
        } catch {
            throw PeerError.garbage(peer: peer.description, what: "\(what): \(error)")
        }
    }

    private func get(_ peer: PeerAddress, _ path: String, what: String, limit: Int) async throws -> [UInt8] {
        try await getWithHeaders(peer, path, what: what, limit: limit).0
    }

    /// The answer's body and headers; with `buffer`, the body goes there and the bytes returned are empty.
    private func getWithHeaders(
        _ peer: PeerAddress, _ path: String, what: String, limit: Int, body: [UInt8]? = nil, priority: FetchPriority = .read,
        stallTimeout: Duration? = nil, into buffer: ReceiveBuffer? = nil
    ) async throws -> ([UInt8], HTTPHeaders) {
        let watch = stallWatch()
        let stallTimeout = stallTimeout ?? self.stallTimeout
        return try await watch.guarding(stallTimeout) {
            try await exchange(peer, path, what: what, limit: limit, body: body, priority: priority, watch: watch, into: buffer)
        } stalled: {
            PeerError.unreachable(peer: peer.description, reason: "it sent nothing for \(stallTimeout) in answer to the request for \(what)")
        }
    }

    /// A kept connection the peer closes just as it is reused (its idle timeout) fails the request before any answer:
    /// it is sent once more, on a new connection, rather than counted against the peer. Every peer request only reads.
    private func executeOnceMoreIfClosed(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        do {
            return try await httpClient.execute(request, timeout: timeout)
        } catch let error as HTTPClientError where error == .remoteConnectionClosed {
            return try await httpClient.execute(request, timeout: timeout)
        }
    }

    private func exchange(
        _ peer: PeerAddress, _ path: String, what: String, limit: Int, body: [UInt8]?, priority: FetchPriority, watch: StallWatch,
        into buffer: ReceiveBuffer?
    ) async throws -> ([UInt8], HTTPHeaders) {
        var request = HTTPClientRequest(url: peer.baseURL + path)
        if let body {
            request.method = .POST
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response: HTTPClientResponse
        do {
            response = try await executeOnceMoreIfClosed(request)
        } catch {
            throw PeerError.unreachable(peer: peer.description, reason: "\(error)")
        }
        watch.progressed()
        switch response.status.code {
        case 200: break
        case 401: throw PeerError.unauthorized(peer: peer.description)
        case 404: throw PeerError.notFound(peer: peer.description, what: what)
        default: throw PeerError.status(peer: peer.description, code: Int(response.status.code), what: what)
        }
        var collected = [UInt8]()
        // Chunk bodies are announced: one allocation instead of a doubling series of copies, once the announced
        // length is known to be within the limit (a peer may announce a terabyte).
        if let announced = response.headers.first(name: "Content-Length") {
            guard let length = Int(announced), (0...limit).contains(length) else {
                throw PeerError.garbage(
                    peer: peer.description, what: "Content-Length '\(announced.prefix(40))' for \(what), not a length within 0...\(limit) bytes")
            }
            if buffer == nil { collected.reserveCapacity(length) }
        }
        do {
            for try await part in response.body {
                guard (buffer?.count ?? collected.count) + part.readableBytes <= limit else {
                    throw PeerError.garbage(peer: peer.description, what: "\(what): more than \(limit) bytes")
                }
                if let downloadLimiter {
                    try await watch.paused { try await downloadLimiter.acquire(part.readableBytes, priority: priority) }
                }
                if let buffer {
                    _ = part.withUnsafeReadableBytes { buffer.append($0, upTo: limit) }
                } else {
                    collected += part.readableBytesView
                }
                watch.progressed()
            }
        } catch let error as PeerError {
            throw error
        } catch {
            throw PeerError.unreachable(peer: peer.description, reason: "connection lost in the body of \(what): \(error)")
        }
        return (collected, response.headers)
    }
}

/// Where a peer's `PeerServer` listens.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[v6]:port`.
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    public var baseURL: String { "http://\(description)" }
}
