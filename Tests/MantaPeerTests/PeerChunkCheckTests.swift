import Foundation
import MantaStore
import MantaTestSupport
import Testing

@testable import MantaPeer

#if canImport(Glibc)
import Glibc
#endif

/// The peer server answers 200 only with bytes known to hash to the chunk's id: a chunk file changed after it was
/// sealed is hashed again, and served only if it still matches.
@Suite struct PeerChunkCheckTests {
    private static let auth = ["Authorization": "Bearer cluster-secret"]

    /// A plain chunk of the peer's model, its bytes, and its file.
    private static func plainChunk(of peer: RunningPeer) throws -> (chunk: Manifest.Chunk, bytes: [UInt8], path: String) {
        let chunk = try #require(
            peer.manifest.files.flatMap(\.chunks).first { $0.length > 8192 && peer.store.location(of: $0.id)?.encoding == .plain })
        return (chunk, try peer.store.read(chunk.id), try #require(peer.store.location(of: chunk.id)).path)
    }

    @Test func aChunkChangedInPlaceAfterItWasServedIsRefusedAndQuarantinedWhileOthersStillServe() async throws {
        try await RunningPeer.with { peer, _ in
            let (chunk, bytes, path) = try Self.plainChunk(of: peer)
            let client = PeerClient(token: "cluster-secret")
            #expect(try await client.chunk(chunk.id, length: chunk.length, from: peer.address) == bytes)

            try overwriteKeepingTimes(path, at: 4096, with: Array(bytes[4096..<8192]).map { $0 ^ 0x5a })
            let changed = try await RawHTTP.get(port: peer.port, path: "/v1/chunks/\(chunk.id.hex)", headers: Self.auth)
            #expect(changed.status == 500)
            #expect(String(decoding: changed.body, as: UTF8.self).contains("quarantine"), "\(String(decoding: changed.body, as: UTF8.self))")
            #expect(peer.store.location(of: chunk.id) == nil, "the changed chunk left the store")
            let again = try await RawHTTP.get(port: peer.port, path: "/v1/chunks/\(chunk.id.hex)", headers: Self.auth)
            #expect(again.status == 404)

            let other = try #require(peer.manifest.files.flatMap(\.chunks).first { $0.id != chunk.id })
            let otherBytes = try peer.store.read(other.id)
            #expect(try await client.chunk(other.id, length: other.length, from: peer.address) == otherBytes)
        }
    }

    @Test func aChunkWrittenAgainWithItsOwnBytesIsHashedAndServed() async throws {
        try await RunningPeer.with { peer, _ in
            let (chunk, bytes, path) = try Self.plainChunk(of: peer)
            let sealed = try #require(peer.store.seal(of: chunk.id))
            try overwriteKeepingTimes(path, at: 0, with: Array(bytes[0..<4096]))
            #expect(ChunkSeal(path: path) != sealed)
            #expect(try await PeerClient(token: "cluster-secret").chunk(chunk.id, length: chunk.length, from: peer.address) == bytes)
            #expect(peer.store.seal(of: chunk.id) == ChunkSeal(path: path), "the hashed file was sealed again")
        }
    }
}
