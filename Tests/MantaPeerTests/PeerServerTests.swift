import AsyncHTTPClient
import Foundation
import MantaStore
import MantaTestSupport
import NIOCore
import ServiceLifecycle
import Testing

@testable import MantaPeer

/// A real peer server on 127.0.0.1 with an OS-chosen port, over a store holding the GGUF fixture.
struct RunningPeer: Sendable {
    let store: Store
    let server: PeerServer
    let port: Int
    let manifest: Manifest
    let digest: Digest
    var address: PeerAddress { PeerAddress(host: "127.0.0.1", port: port) }

    static func with<T>(
        token: String? = "cluster-secret",
        uploadRate: UInt64? = nil,
        compression: StoreConfiguration.Compression = .none,
        _ body: (RunningPeer, TemporaryDirectory) async throws -> T
    ) async throws -> T {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"), changes: .init(compression: compression))
        let summary = try store.importDirectory(try Fixtures.gguf(), as: try RepoReference(parsing: "acme/gguf"))
        let server = PeerServer(store: store, configuration: .init(token: token, uploadRate: uploadRate))
        return try await RunningServices.with([server]) { _ in
            let peer = RunningPeer(store: store, server: server, port: await server.boundPort(), manifest: summary.manifest, digest: summary.digest)
            return try await body(peer, scratch)
        }
    }
}

@Suite struct PeerServerTests {
    @Test func aPeerWithTheTokenGetsVerifiedChunksManifestsAndBitmaps() async throws {
        try await RunningPeer.with { peer, _ in
            let client = PeerClient(token: "cluster-secret")
            let file = try #require(peer.manifest.files.first)
            for chunk in file.chunks.prefix(3) {
                let bytes = try await client.chunk(chunk.id, length: chunk.length, from: peer.address)
                #expect(bytes == (try peer.store.read(chunk.id)))
            }
            #expect(try await client.manifest(peer.digest, from: peer.address) == peer.manifest)
            let ids = peer.manifest.chunkIDs
            let bitmap = try await client.have(peer.digest, chunkCount: ids.count, from: peer.address)
            #expect(bitmap.presentCount == ids.count)
        }
    }

    @Test func aByteGroupedChunkIsServedAsItsUncompressedBytesWholeAndInRanges() async throws {
        try await RunningPeer.with(compression: .zstdBytegroup) { peer, _ in
            let chunks = peer.manifest.files.flatMap(\.chunks)
            let chunk = try #require(chunks.first { peer.store.location(of: $0.id)?.encoding == .byteGrouped })
            let whole = try peer.store.read(chunk.id)
            #expect(try await PeerClient(token: "cluster-secret").chunk(chunk.id, length: chunk.length, from: peer.address) == whole)
            let auth = ["Authorization": "Bearer cluster-secret"]
            let partial = try await RawHTTP.get(
                port: peer.port, path: "/v1/chunks/\(chunk.id.hex)", headers: auth.merging(["Range": "bytes=1001-5000"]) { $1 })
            #expect(partial.status == 206)
            #expect(partial.body == Array(whole[1001...5000]))
        }
    }

    @Test func aByteGroupedChunkFileThatDoesNotDecodeIsAServerErrorNotACrash() async throws {
        try await RunningPeer.with(compression: .zstdBytegroup) { peer, _ in
            let chunks = peer.manifest.files.flatMap(\.chunks)
            let chunk = try #require(chunks.first { peer.store.location(of: $0.id)?.encoding == .byteGrouped })
            try FileDamage.truncate(toFraction: 0.5).apply(to: try #require(peer.store.location(of: chunk.id)).path)
            let response = try await RawHTTP.get(
                port: peer.port, path: "/v1/chunks/\(chunk.id.hex)", headers: ["Authorization": "Bearer cluster-secret"])
            #expect(response.status == 500)
            #expect(String(decoding: response.body, as: UTF8.self).contains("does not decode"))
        }
    }

    @Test func theBitmapShowsMissingChunks() async throws {
        try await RunningPeer.with { peer, _ in
            let ids = peer.manifest.chunkIDs
            unlink(try #require(peer.store.location(of: ids[1])).path)
            let bitmap = try await PeerClient(token: "cluster-secret").have(peer.digest, chunkCount: ids.count, from: peer.address)
            #expect(bitmap[0] && !bitmap[1] && bitmap[2])
            #expect(bitmap.presentCount == ids.count - 1)
        }
    }

    @Test func rangesHeadAndUnsatisfiableRanges() async throws {
        try await RunningPeer.with { peer, _ in
            let chunk = try #require(peer.manifest.files.first?.chunks[1])
            let whole = try peer.store.read(chunk.id)
            let auth = ["Authorization": "Bearer cluster-secret"]
            let partial = try await RawHTTP.get(
                port: peer.port, path: "/v1/chunks/\(chunk.id.prefixed)", headers: auth.merging(["Range": "bytes=10-99"]) { $1 })
            #expect(partial.status == 206)
            #expect(partial.body == Array(whole[10..<100]))
            let suffix = try await RawHTTP.get(
                port: peer.port, path: "/v1/chunks/\(chunk.id.hex)", headers: auth.merging(["Range": "bytes=-5"]) { $1 })
            #expect(suffix.body == Array(whole.suffix(5)))
            let beyond = try await RawHTTP.get(
                port: peer.port, path: "/v1/chunks/\(chunk.id.hex)", headers: auth.merging(["Range": "bytes=\(whole.count)-"]) { $1 })
            #expect(beyond.status == 416)
        }
    }

    @Test func requestsWithoutTheRightTokenAreRejected() async throws {
        try await RunningPeer.with { peer, _ in
            let chunk = try #require(peer.manifest.files.first?.chunks.first)
            let path = "/v1/chunks/\(chunk.id.prefixed)"
            #expect(try await RawHTTP.get(port: peer.port, path: path).status == 401)
            #expect(try await RawHTTP.get(port: peer.port, path: path, headers: ["Authorization": "Bearer wrong"]).status == 401)
            #expect(try await RawHTTP.get(port: peer.port, path: path, headers: ["Authorization": "Basic Y2x1c3Rlci1zZWNyZXQ="]).status == 401)
            #expect(try await RawHTTP.get(port: peer.port, path: "/healthz").status == 200)
            await #expect(throws: PeerError.unauthorized(peer: peer.address.description)) {
                try await PeerClient(token: "wrong").manifest(peer.digest, from: peer.address)
            }
        }
    }

    @Test(arguments: [
        "/v1/chunks/../../etc/passwd", "/v1/chunks/..%2F..%2Fetc%2Fpasswd", "/v1/chunks/%2e%2e/%2e%2e/etc/passwd",
        "/v1/chunks//etc/passwd", "/v1/chunks/%2Fetc%2Fpasswd", "/v1/manifests/..", "/v1/manifests/../../meta.db",
        "/v1/chunks/sha256:..%2F..%2Fmeta.db", "/v1/chunks/config.json", "/v1/../config.json", "/../../../etc/passwd",
    ])
    func pathTraversalNeverReachesTheFileSystem(path: String) async throws {
        try await RunningPeer.with { peer, _ in
            let response = try await RawHTTP.get(port: peer.port, path: path, headers: ["Authorization": "Bearer cluster-secret"])
            #expect([400, 404].contains(response.status), "\(path) → \(response.status)")
            let text = String(decoding: response.body, as: UTF8.self)
            #expect(!text.contains("root:"))
            #expect(!text.contains("chunkSize"))
        }
    }

    @Test func aPeerServingWrongBytesIsCaught() async throws {
        try await RunningPeer.with { peer, _ in
            let chunk = try #require(peer.manifest.files.first?.chunks[2])
            let path = try #require(peer.store.location(of: chunk.id)).path
            var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[100] ^= 0xff
            chmod(path, 0o644)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            // Sealed again as if the damage bypassed the kernel: the server trusts the seal, so only the client's check is left.
            try peer.store.recordSeals([(chunk.id, try #require(ChunkSeal(path: path)))])
            await #expect(throws: PeerError.badBytes(peer: peer.address.description, chunk: chunk.id.prefixed)) {
                try await PeerClient(token: "cluster-secret").chunk(chunk.id, length: chunk.length, from: peer.address)
            }
        }
    }
}

@Suite struct PeerServerMissingContentTests {
    @Test func aMissingChunkIsNotFound() async throws {
        try await RunningPeer.with { peer, _ in
            let missing = SHA256Hasher.hash([1, 2, 3])
            await #expect(throws: PeerError.notFound(peer: peer.address.description, what: "chunk \(missing)")) {
                try await PeerClient(token: "cluster-secret").chunk(missing, length: 3, from: peer.address)
            }
        }
    }
}

@Suite(.serialized) struct PeerUploadRateTests {
    /// The server never goes faster than the limit; on a loaded machine it may go slower, which the
    /// limiter cannot help, so the upper bound here only catches a limiter that throttles far too much.
    /// `RateLimiterTests` holds the limiter itself to ±10%.
    @Test func uploadsNeverExceedTheRateLimit() async throws {
        let rate: UInt64 = 4_000_000
        try await RunningPeer.with(uploadRate: rate) { peer, _ in
            let client = PeerClient(token: "cluster-secret")
            let chunks = try #require(peer.manifest.files.first?.chunks.filter { $0.length >= 1 << 20 }.prefix(3))
            let bytes = chunks.reduce(UInt64(0)) { $0 + $1.length }
            let clock = ContinuousClock()
            let elapsed = try await clock.measure {
                for chunk in chunks { _ = try await client.chunk(chunk.id, length: chunk.length, from: peer.address) }
            }
            let seconds = elapsed.inSeconds
            let burst = Double(rate) / 4
            let expected = (Double(bytes) - burst) / Double(rate)
            #expect(seconds >= expected * 0.9, "\(bytes) bytes in \(seconds) s: faster than the limit")
            #expect(seconds <= expected * 2 + 0.5, "\(bytes) bytes in \(seconds) s, expected \(expected) s")
        }
    }
}

/// Requests with hostile numbers against a running peer server: each gets a 4xx (or a clamped answer) with a
/// message, and the server goes on serving.
@Suite struct PeerServerHostileRequestTests {
    static let auth = ["Authorization": "Bearer cluster-secret"]

    static func post(_ path: String, body: [UInt8], to peer: RunningPeer) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: peer.address.baseURL + path)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer cluster-secret")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    @Test func rangesAtTheLimitsOfUInt64AreClampedOrUnsatisfiableAndTheServerStaysUp() async throws {
        try await RunningPeer.with { peer, _ in
            let chunk = try #require(peer.manifest.files.first?.chunks[1])
            let whole = try peer.store.read(chunk.id)
            let path = "/v1/chunks/\(chunk.id.hex)"
            let everything = try await RawHTTP.get(
                port: peer.port, path: path, headers: Self.auth.merging(["Range": "bytes=0-18446744073709551615"]) { $1 })
            #expect(everything.status == 206)
            #expect(everything.body == whole)
            let past = try await RawHTTP.get(
                port: peer.port, path: path, headers: Self.auth.merging(["Range": "bytes=18446744073709551615-18446744073709551615"]) { $1 })
            #expect(past.status == 416)
            let overflowing = try await RawHTTP.get(
                port: peer.port, path: path, headers: Self.auth.merging(["Range": "bytes=0-99999999999999999999999"]) { $1 })
            #expect(overflowing.status == 200)
            #expect(overflowing.body == whole)
            #expect(try await PeerClient(token: "cluster-secret").chunk(chunk.id, length: chunk.length, from: peer.address) == whole)
        }
    }

    @Test func aHaveQueryAboveTheCapIs413WithAMessageAndAFetcherAsksInBatches() async throws {
        try await RunningPeer.with { peer, _ in
            let tooMany = (0...PeerServer.maximumHaveQuery).flatMap { SHA256Hasher.hash(Array("\($0)".utf8)).bytes }
            let refused = try await Self.post("/v1/have", body: tooMany, to: peer)
            #expect(refused.status == 413)
            #expect(refused.body.contains("ask in batches"), "\(refused.body)")
            // Twice the cap and more: the fetcher's batches find every chunk the peer has among unknown ids.
            let ids = peer.manifest.chunkIDs
            let unknown = (0..<(2 * PeerServer.maximumHaveQuery)).map { SHA256Hasher.hash(Array("unknown \($0)".utf8)) }
            let fetcher = PeerChunkFetcher(peers: [peer.address], client: PeerClient(token: "cluster-secret"), fallback: nil)
            let holders = await fetcher.holders(of: unknown + ids)
            #expect(Set(holders.keys) == Set(ids))
        }
    }

    @Test func aSwarmQueryWithANegativeSeenCountIsABadRequestNamingTheField() async throws {
        try await RunningPeer.with { peer, _ in
            let query = #"{"repo": "acme/gguf", "commit": "c", "chunkSize": 4194304, "files": ["model.gguf"], "seen": {"model.gguf": -3}}"#
            let refused = try await Self.post("/v1/swarm", body: Array(query.utf8), to: peer)
            #expect(refused.status == 400)
            #expect(refused.body.contains("seen"), "\(refused.body)")
            #expect(try await RawHTTP.get(port: peer.port, path: "/healthz").status == 200)
        }
    }
}
