import Foundation
import Hummingbird
import MantaStore
import MantaWire
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

extension PeerServer {
    static let blockSize = 256 * 1024

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ in "ok\n" }
        if let metrics = configuration.metrics {
            router.get("/metrics") { _, _ in
                Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: metrics())))
            }
        }
        let api = router.group("/v1").add(middleware: BearerTokenMiddleware(token: configuration.token))
        api.get("/chunks/:id") { request, context in try await self.chunk(request, context, includeBody: true) }
        api.head("/chunks/:id") { request, context in try await self.chunk(request, context, includeBody: false) }
        api.get("/manifests/:digest") { _, context in try await self.manifest(context) }
        api.get("/manifests/:digest/have") { _, context in try await self.have(context) }
        api.post("/have") { request, _ in try await self.have(request) }
        api.post("/swarm") { request, _ in try await self.swarm(request) }
    }

    private func digest(_ context: BasicRequestContext, _ name: String) throws -> Digest {
        guard let text = context.parameters.get(name), let digest = Digest(prefixed: text) ?? Digest(hex: text) else {
            throw HTTPError(.notFound, message: "not a sha256 digest")
        }
        return digest
    }

    private func chunk(_ request: Request, _ context: BasicRequestContext, includeBody: Bool) async throws -> Response {
        let id = try digest(context, "id")
        guard let location = store.location(of: id) else { throw HTTPError(.notFound, message: "chunk \(id) is not on this node") }
        let source = try await NIOThreadPool.singleton.runIfActive { try ChunkFile(id, location: location, store: self.store) }
        let length = source.length
        var headers: HTTPFields = [.contentType: "application/octet-stream", .acceptRanges: "bytes", .eTag: "\"\(id.hex)\""]
        var status = HTTPResponse.Status.ok
        var range = ByteRange(0, length)
        switch ByteRange.parse(request.headers[.range], length: length) {
        case .whole: break
        case .partial(let partial):
            range = partial
            status = .partialContent
            headers[.contentRange] = partial.contentRange(of: length)
        case .unsatisfiable:
            return Response(status: .rangeNotSatisfiable, headers: [.contentRange: "bytes */\(length)"])
        }
        headers[.contentLength] = String(range.count)
        guard includeBody else { return Response(status: status, headers: headers) }
        guard activeUploads.add(1, ordering: .relaxed).newValue <= configuration.maxConcurrentUploads else {
            activeUploads.subtract(1, ordering: .relaxed)
            return Response(status: .serviceUnavailable, headers: [.retryAfter: "1"])
        }
        let body = ResponseBody(contentLength: Int(range.count)) { [self, range] writer in
            defer { activeUploads.subtract(1, ordering: .relaxed) }
            var offset = range.lowerBound
            while offset < range.upperBound {
                let count = Int(min(UInt64(Self.blockSize), range.upperBound - offset))
                try await uploadLimiter?.acquire(count)
                let start = offset
                let block = try await NIOThreadPool.singleton.runIfActive { try source.read(count: count, at: start) }
                try await writer.write(block)
                offset += UInt64(count)
                bytesServed.add(UInt64(count), ordering: .relaxed)
            }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    private func manifest(_ context: BasicRequestContext) async throws -> Response {
        let digest = try digest(context, "digest")
        let bytes = try await NIOThreadPool.singleton.runIfActive { [store] in try? store.manifestBytes(digest) }
        guard let bytes else { throw HTTPError(.notFound, message: "manifest \(digest) is not on this node") }
        bytesServed.add(UInt64(bytes.count), ordering: .relaxed)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Bit i (most significant first in each byte) is set when this node has chunk i of the manifest's
    /// sorted distinct chunk ids.
    private func have(_ context: BasicRequestContext) async throws -> Response {
        let digest = try digest(context, "digest")
        let ids = try await NIOThreadPool.singleton.runIfActive { [store] in (try? store.manifest(digest))?.chunkIDs }
        guard let ids else { throw HTTPError(.notFound, message: "manifest \(digest) is not on this node") }
        return Self.bitmapResponse(try await presence(of: ids))
    }
}

extension PeerServer {
    /// The most chunk ids one `POST /v1/have` may ask about (askers split longer lists): each costs up to three
    /// `stat`s on a thread of the shared pool, so one request holds a thread for milliseconds, not seconds.
    public static let maximumHaveQuery = 1024

    /// Whether this node has each of `ids`, looked up `maximumHaveQuery` at a time so that other requests get
    /// the thread pool in between.
    func presence(of ids: [ChunkID]) async throws -> [Bool] {
        var present: [Bool] = []
        present.reserveCapacity(ids.count)
        for start in stride(from: 0, to: ids.count, by: Self.maximumHaveQuery) {
            let batch = ids[start..<min(start + Self.maximumHaveQuery, ids.count)]
            present += try await NIOThreadPool.singleton.runIfActive { [store] in batch.map(store.contains) }
        }
        return present
    }

    /// The request's body, refused with 413 and a message above `limit` bytes.
    func body(of request: Request, upTo limit: Int, what: String) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw HTTPError(.contentTooLarge, message: "\(what) is larger than \(limit) bytes")
        }
    }

    /// Which of the chunk ids in the body (32 bytes each) this node has, as a bitmap in the same order.
    func have(_ request: Request) async throws -> Response {
        let what = "the body of POST /v1/have (at most \(Self.maximumHaveQuery) ids of 32 bytes: ask in batches)"
        let body = try await body(of: request, upTo: Self.maximumHaveQuery * 32, what: what)
        let bytes = Array(body.readableBytesView)
        guard bytes.count % 32 == 0 else { throw HTTPError(.badRequest, message: "the body must be 32-byte SHA-256 ids") }
        let ids = stride(from: 0, to: bytes.count, by: 32).map { Digest(bytes: Array(bytes[$0..<$0 + 32])) }
        return Self.bitmapResponse(try await presence(of: ids))
    }

    /// Which chunks are here, one bit each in the order asked, with their count in a header.
    static func bitmapResponse(_ present: [Bool]) -> Response {
        let bitmap = ChunkBitmap(present)
        return Response(
            status: .ok,
            headers: [.contentType: "application/octet-stream", ChunkBitmap.countHeader: String(bitmap.count)],
            body: .init(byteBuffer: ByteBuffer(bytes: bitmap.bytes))
        )
    }
}

extension PeerServer {
    /// What this node has of the revision in the JSON body (a `SwarmQuery`, checked by `SwarmQuery.decode`), as a JSON `SwarmStatus`.
    func swarm(_ request: Request) async throws -> Response {
        let body = try await body(of: request, upTo: SwarmQuery.maximumEncodedSize, what: "the swarm query")
        let query: SwarmQuery
        do {
            query = try SwarmQuery.decode(Array(body.readableBytesView))
        } catch {
            throw HTTPError(.badRequest, message: "swarm query: \(error)")
        }
        let status = await configuration.swarm?(query) ?? .nothing
        let bytes = try JSONEncoder().encode(status)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// A chunk whose bytes are served only once they are known to hash to its id. A plain file that still carries the
/// seal the store recorded when it checked it is read in place, and its seal is looked at again after every block
/// read, so a write while the answer is sent cuts the answer short instead of sending bytes nobody checked (a
/// write sets the file's change time before it changes a byte). Any other file is read whole, decoded and hashed
/// per request (chunks are a few MiB), and sealed when it matches; one that does not is quarantined, and the
/// answer is an error that says so.
final class ChunkFile: Sendable {
    /// -1 for a chunk served from memory.
    private let descriptor: Int32
    private let seal: ChunkSeal?
    private let checked: [UInt8]?
    let length: UInt64

    init(_ id: ChunkID, location: Store.ChunkLocation, store: Store) throws {
        if location.encoding == .plain {
            let opened = open(location.path, O_RDONLY | O_CLOEXEC)
            guard opened >= 0 else { throw HTTPError(.notFound) }
            if let seal = ChunkSeal(descriptor: opened), seal == store.seal(of: id) {
                descriptor = opened
                self.seal = seal
                checked = nil
                length = seal.size
                return
            }
            close(opened)
        }
        guard let before = ChunkSeal(path: location.path) else { throw HTTPError(.notFound, message: "chunk \(id) is not on this node") }
        // A file no chunk could have made would otherwise size the buffer it is read into.
        guard before.size <= UInt64(ChunkEncoding.maximumChunkSize) else {
            throw Self.quarantined(id, store: store, "its file is larger than any chunk")
        }
        let bytes: [UInt8]
        do {
            bytes = try location.decoded()
        } catch let error as ChunkDecodingError {
            throw Self.quarantined(id, store: store, "\(error)")
        } catch {
            throw HTTPError(.notFound, message: "chunk \(id) is not on this node")
        }
        guard SHA256Hasher.hash(bytes) == id else { throw Self.quarantined(id, store: store, "its bytes do not hash to its id") }
        try? store.recordSeals([(id, before)])
        descriptor = -1
        seal = nil
        checked = bytes
        length = UInt64(bytes.count)
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// Moves a chunk whose file cannot give its bytes out of the store, so that this node stops offering it and
    /// a pull fetches it again; the answer that says so.
    private static func quarantined(_ id: ChunkID, store: Store, _ problem: String) -> HTTPError {
        let moved = (try? store.quarantineChunk(id)) != nil
        return HTTPError(
            .internalServerError,
            message: "chunk \(id) on this node is corrupt (\(problem)); "
                + (moved ? "it was moved to quarantine, ask another node" : "run `manta verify` on this node"))
    }

    /// Reads straight into the buffer that is sent; `offset + count` is within `length`.
    func read(count: Int, at offset: UInt64) throws -> ByteBuffer {
        if let checked { return ByteBuffer(bytes: checked[Int(offset)..<Int(offset) + count]) }
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        let got = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { pread(descriptor, $0.baseAddress, count, off_t(offset)) }
        guard got == count else { throw HTTPError(.internalServerError, message: "chunk file shorter than expected") }
        guard ChunkSeal(descriptor: descriptor) == seal else {
            throw HTTPError(.internalServerError, message: "the chunk file changed while it was being sent; ask again")
        }
        return buffer
    }
}
