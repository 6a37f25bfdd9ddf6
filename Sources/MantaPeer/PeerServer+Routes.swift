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
        let source = try await NIOThreadPool.singleton.runIfActive { try ChunkFile(location: location) }
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
        let bitmap = try await NIOThreadPool.singleton.runIfActive { [store] () -> ChunkBitmap? in
            guard let manifest = try? store.manifest(digest) else { return nil }
            return ChunkBitmap(manifest.chunkIDs.map(store.contains))
        }
        guard let bitmap else { throw HTTPError(.notFound, message: "manifest \(digest) is not on this node") }
        return Response(
            status: .ok,
            headers: [.contentType: "application/octet-stream", ChunkBitmap.countHeader: String(bitmap.count)],
            body: .init(byteBuffer: ByteBuffer(bytes: bitmap.bytes))
        )
    }
}

extension PeerServer {
    /// The most chunk ids one `POST /v1/have` may ask about.
    static let maximumHaveQuery = 65_536

    /// Which of the chunk ids in the body (32 bytes each) this node has, as a bitmap in the same order.
    func have(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: Self.maximumHaveQuery * 32)
        let bytes = Array(body.readableBytesView)
        guard bytes.count % 32 == 0 else { throw HTTPError(.badRequest, message: "the body must be 32-byte SHA-256 ids") }
        let ids = stride(from: 0, to: bytes.count, by: 32).map { Digest(bytes: Array(bytes[$0..<$0 + 32])) }
        let bitmap = try await NIOThreadPool.singleton.runIfActive { [store] in ChunkBitmap(ids.map(store.contains)) }
        return Response(
            status: .ok,
            headers: [.contentType: "application/octet-stream", ChunkBitmap.countHeader: String(bitmap.count)],
            body: .init(byteBuffer: ByteBuffer(bytes: bitmap.bytes))
        )
    }
}

extension PeerServer {
    static let maximumSwarmQueryBytes = 1 << 20

    /// What this node has of the revision in the JSON body (a `SwarmQuery`), as a JSON `SwarmStatus`.
    func swarm(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: Self.maximumSwarmQueryBytes)
        guard let query = try? JSONDecoder().decode(SwarmQuery.self, from: Data(body.readableBytesView)) else {
            throw HTTPError(.badRequest, message: "the body must be a JSON swarm query {repo, commit, chunkSize, files}")
        }
        let status = await configuration.swarm?(query) ?? .nothing
        let bytes = try JSONEncoder().encode(status)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// An open chunk file whose bytes are served: plain files are read in place, encoded ones are decoded
/// once per request (chunks are a few MiB).
final class ChunkFile: Sendable {
    /// -1 for an encoded file, which is read whole at once.
    private let descriptor: Int32
    private let decoded: [UInt8]?
    let length: UInt64

    init(location: Store.ChunkLocation) throws {
        guard location.encoding != .plain else {
            descriptor = open(location.path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw HTTPError(.notFound) }
            var info = stat()
            fstat(descriptor, &info)
            decoded = nil
            length = UInt64(info.st_size)
            return
        }
        let bytes: [UInt8]
        do {
            bytes = try location.decoded()
        } catch let error as ChunkDecodingError {
            throw HTTPError(.internalServerError, message: "\(error)")
        } catch {
            throw HTTPError(.notFound)
        }
        descriptor = -1
        decoded = bytes
        length = UInt64(bytes.count)
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// Reads straight into the buffer that is sent.
    func read(count: Int, at offset: UInt64) throws -> ByteBuffer {
        if let decoded { return ByteBuffer(bytes: decoded[Int(offset)..<Int(offset) + count]) }
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        let got = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { pread(descriptor, $0.baseAddress, count, off_t(offset)) }
        guard got == count else { throw HTTPError(.internalServerError, message: "chunk file shorter than expected") }
        return buffer
    }
}
