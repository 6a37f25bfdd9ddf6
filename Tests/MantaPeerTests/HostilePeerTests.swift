import Foundation
import MantaStore
import MantaTestSupport
import MantaTransfer
import MantaWire
import Synchronization
import Testing

@testable import MantaPeer

/// A hostile peer (a real listener on 127.0.0.1 speaking the peer protocol with numbers of its choosing) against
/// the client: each answer is refused with an error that names the peer and what was wrong, and nothing is
/// allocated from the numbers first.
@Suite struct HostilePeerTests {
    let client = PeerClient(token: "cluster-secret")

    /// Runs `body` against a peer that answers every request with `answer`.
    static func withHostilePeer<T>(
        _ answer: @escaping @Sendable (ScriptedHTTPServer.Request) -> ScriptedHTTPServer.Answer,
        _ body: (PeerAddress, ScriptedHTTPServer) async throws -> T
    ) async throws -> T {
        let server = try ScriptedHTTPServer(answer: answer)
        defer { server.stop() }
        return try await body(PeerAddress(host: "127.0.0.1", port: server.port), server)
    }

    /// The description of the error `operation` throws, which must be a `PeerError` naming `peer`.
    static func refusal(
        from peer: PeerAddress, _ operation: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation
    ) async -> String {
        do {
            try await operation()
            Issue.record("the hostile answer was accepted", sourceLocation: sourceLocation)
            return ""
        } catch let error as PeerError {
            #expect("\(error)".contains("peer \(peer)"), "\(error)", sourceLocation: sourceLocation)
            return "\(error)"
        } catch {
            Issue.record("not a PeerError: \(error)", sourceLocation: sourceLocation)
            return ""
        }
    }

    @Test func aChunkAnnouncedWithATerabyteContentLengthIsRefusedBeforeAnythingIsReserved() async throws {
        let bytes: [UInt8] = Array(repeating: 7, count: 100)
        let id = SHA256Hasher.hash(bytes)
        try await Self.withHostilePeer({ _ in .init(headers: [("Content-Length", "1099511627776")], body: bytes) }) { peer, _ in
            let message = await Self.refusal(from: peer) { _ = try await client.chunk(id, length: 100, from: peer) }
            #expect(message.contains("Content-Length '1099511627776'"), "\(message)")
        }
    }

    /// A chunk taken into a receive buffer (the swarm's pulls) meets the same limits as one returned whole: a body
    /// longer or shorter than the chunk is refused, and bytes of the right length that hash to something else are
    /// caught by `check`, which the caller must pass them through before it uses them.
    @Test(arguments: [150, 60, 100])
    func aChunkIntoAReceiveBufferIsHeldToItsLengthAndItsHash(sent: Int) async throws {
        let bytes: [UInt8] = Array(repeating: 7, count: sent)
        let id = SHA256Hasher.hash(Array(repeating: 8, count: 100))
        try await Self.withHostilePeer({ _ in .init(body: bytes) }) { peer, _ in
            let buffer = ReceiveBuffer(capacity: 0)
            _ = await Self.refusal(from: peer) {
                try await client.uncheckedChunk(id, length: 100, from: peer, priority: .preheat, into: buffer)
                try PeerClient.check(SHA256Hasher.hash(buffer.bytes), of: id, from: peer)
            }
            #expect(buffer.count <= 100, "nothing past the chunk's length is kept")
        }
    }

    /// A peer whose host died sends no reset: the client gives up once it has been silent for the stall timeout,
    /// long before the request's own timeout, whether the silence comes before the answer or inside its body. The
    /// timeout runs on a test clock, which moves only while the client waits: the answer is given up when the clock
    /// reaches it, however busy the machine.
    @Test(arguments: [true, false])
    func aPeerThatFallsSilentIsGivenUpAfterTheStallTimeout(midBody: Bool) async throws {
        let bytes: [UInt8] = Array(repeating: 7, count: 100)
        let clock = ManualClock()
        let client = PeerClient(token: "cluster-secret", timeout: .seconds(60), stallTimeout: .seconds(1), clock: clock)
        try await Self.withHostilePeer({ _ in
            midBody
                ? .init(headers: [("Content-Length", "100")], body: Array(bytes[..<10]), silenceAfter: .seconds(20))
                : {
                    Thread.sleep(forTimeInterval: 20)
                    return .init(body: bytes)
                }()
        }) { peer, server in
            let fetch = Task { try await client.chunk(SHA256Hasher.hash(bytes), length: 100, from: peer) }
            try await eventually("the peer has the request") { !server.requests.isEmpty }
            // Time for the first ten bytes of the answer to reach the client, where the answer starts.
            try await Task.sleep(for: .milliseconds(200))
            let message = await Self.refusal(from: peer) { _ = try await clock.run { try await fetch.value } }
            #expect(message.contains("sent nothing for 1.0 seconds"), "\(message)")
            #expect(clock.now.offset >= .seconds(1) && clock.now.offset <= .seconds(1.2), "\(clock.now.offset)")
        }
    }

    /// A peer's idle timeout can close a kept connection just as the client sends on it: the request is sent once
    /// more on a new connection, and only a peer that hangs up on that one too is given up on.
    @Test func aConnectionClosedBeforeAnyAnswerIsAskedOnceMoreThenGivenUp() async throws {
        let bytes: [UInt8] = Array(repeating: 9, count: 100)
        let answered = Atomic<Int>(0)
        try await Self.withHostilePeer({ _ in
            answered.add(1, ordering: .relaxed).newValue == 2 ? .init(body: bytes) : .hangUp
        }) { peer, server in
            let fetched = try await client.chunk(SHA256Hasher.hash(bytes), length: 100, from: peer)
            #expect(fetched == bytes)
            #expect(server.requests.count == 2)
            let message = await Self.refusal(from: peer) { _ = try await client.chunk(SHA256Hasher.hash(bytes), length: 100, from: peer) }
            #expect(message.contains("remoteConnectionClosed"), "\(message)")
            #expect(server.requests.count == 4, "asked once more, no more")
        }
    }

    /// A killed agent's port refuses connections, which the HTTP client tries again until the request's timeout;
    /// a pull's swarm round waits for every peer's answer, so a swarm query gives up after a few seconds instead.
    @Test func aSwarmQueryToAKilledPeerGivesUpWithinSeconds() async throws {
        let server = try ScriptedHTTPServer { _ in .init() }
        let peer = PeerAddress(host: "127.0.0.1", port: server.port)
        server.stop()
        let started = ContinuousClock.now
        let query = SwarmQuery(repo: "acme/x", commit: String(repeating: "c", count: 40), chunkSize: 4 << 20, files: ["model.bin"])
        _ = await Self.refusal(from: peer) { _ = try await client.swarm(query, from: peer) }
        #expect(ContinuousClock.now - started < .seconds(10), "not the 30 s request timeout")
    }

    @Test func aChunkLengthAboveTheLargestChunkIsRefusedWithoutAskingThePeer() async throws {
        try await Self.withHostilePeer({ _ in .init(body: [1]) }) { peer, server in
            let message = await Self.refusal(from: peer) { _ = try await client.chunk(SHA256Hasher.hash([1]), length: .max, from: peer) }
            #expect(message.contains("above the largest chunk"), "\(message)")
            #expect(server.requests.isEmpty)
        }
    }

    /// A manifest served with its true digest (so only its contents can be wrong) whose numbers cannot be believed.
    @Test(arguments: [
        (
            #"[{"offset": 0, "length": 9223372036854775808, "id": "ID"}, {"offset": 9223372036854775808, "length": 9223372036854775808, "id": "ID"}]"#,
            "18446744073709551615", "above the limit"
        ),
        (#"[{"offset": 0, "length": 4, "id": "ID"}, {"offset": 4, "length": 18446744073709551612, "id": "ID"}]"#, "8", "above the largest chunk"),
        (#"[{"offset": 0, "length": 200000000, "id": "ID"}]"#, "200000000", "above the largest chunk"),
        (#"[{"offset": 0, "length": 4, "id": "ID"}, {"offset": 18446744073709551614, "length": 4, "id": "ID"}]"#, "8", "do not cover"),
    ])
    func manifestsWithOverflowingOrOverlongChunksAreRefused(chunks: String, size: String, problem: String) async throws {
        let id = SHA256Hasher.hash([1]).hex
        let json =
            #"{"chunkSize":4194304,"files":[{"chunks":\#(chunks.replacingOccurrences(of: "ID", with: id)),"path":"model.bin","scheme":"fixed","sha256":"\#(id)","size":\#(size)}],"source":{"commit":"c","kind":"huggingface","repo":"acme/x","revision":"main"},"version":1}"#
        let bytes = Array(json.utf8)
        try await Self.withHostilePeer({ _ in .init(body: bytes) }) { peer, _ in
            let message = await Self.refusal(from: peer) { _ = try await client.manifest(SHA256Hasher.hash(bytes), from: peer) }
            #expect(message.contains(problem), "\(message)")
        }
    }

    @Test(arguments: [
        (#"{"pullingSince": -5, "chunks": {}}"#, "pullingSince"),
        (#"{"pullingSince": 1e300, "chunks": {}}"#, "pullingSince"),
        (#"{"chunks": {"model.bin": [{"offset": 18446744073709551615, "length": 2, "id": "ID"}]}}"#, #"chunks["model.bin"][0].offset"#),
        (#"{"chunks": {"model.bin": [{"offset": 0, "length": 1000000000, "id": "ID"}]}}"#, #"chunks["model.bin"][0].length"#),
        (#"{"chunks": {"other.bin": [{"offset": 0, "length": 1, "id": "ID"}]}}"#, #"chunks["other.bin"]"#),
        (#"<html>not a swarm answer</html>"#, "swarm status"),
    ])
    func swarmAnswersWithNumbersThatCannotBeBelievedAreRefusedNamingTheField(answer: String, field: String) async throws {
        let body = Array(answer.replacingOccurrences(of: "ID", with: SHA256Hasher.hash([1]).hex).utf8)
        let query = SwarmQuery(repo: "acme/x", commit: "c", chunkSize: 4 << 20, files: ["model.bin"])
        try await Self.withHostilePeer({ _ in .init(body: body) }) { peer, _ in
            let message = await Self.refusal(from: peer) { _ = try await client.swarm(query, from: peer) }
            #expect(message.contains(field), "\(message)")
        }
    }

    @Test func aSwarmAnswerLargerThanTheCapIsRefusedWhileItArrives() async throws {
        let body = [UInt8](repeating: UInt8(ascii: " "), count: SwarmStatus.maximumEncodedSize + 1)
        let query = SwarmQuery(repo: "acme/x", commit: "c", chunkSize: 4 << 20, files: ["model.bin"])
        try await Self.withHostilePeer({ _ in .init(headers: [("Content-Type", "application/json")], body: body) }) { peer, _ in
            let message = await Self.refusal(from: peer) { _ = try await client.swarm(query, from: peer) }
            #expect(message.contains("Content-Length"), "\(message)")
        }
    }

    @Test(arguments: [("9223372036854775807", 1), ("3", 1), ("2", 2), ("-8", 0)])
    func bitmapsWhoseCountIsWrongAreRefused(count: String, bytes: Int) async throws {
        let ids = [SHA256Hasher.hash([1]), SHA256Hasher.hash([2])]
        try await Self.withHostilePeer({ _ in .init(headers: [("X-Manta-Chunk-Count", count)], body: Array(repeating: 0xff, count: bytes)) }) {
            peer, _ in
            let message = await Self.refusal(from: peer) { _ = try await client.have(ids, from: peer) }
            #expect(message.contains("chunk bitmap"), "\(message)")
        }
        #expect(ChunkBitmap(bytes: [0xff], count: .max) == nil)
        #expect(ChunkBitmap(bytes: [], count: .min) == nil)
    }

    /// The hostile peer claims every chunk, then answers each with a terabyte `Content-Length`: the fetch drops it and
    /// takes every chunk from the honest peer, byte-identical.
    @Test func aFetchThatMeetsAHostilePeerTakesEveryChunkFromAnHonestOne() async throws {
        try await RunningPeer.with { honest, scratch in
            let ids = honest.manifest.chunkIDs
            try await Self.withHostilePeer({ request in
                if request.path == "/v1/have" {
                    let asked = request.body.count / 32
                    return .init(headers: [("X-Manta-Chunk-Count", "\(asked)")], body: ChunkBitmap(Array(repeating: true, count: asked)).bytes)
                }
                return .init(headers: [("Content-Length", "1099511627776")], body: Array(repeating: 0, count: 10))
            }) { hostile, _ in
                let target = try Store(root: scratch.appending("target"))
                let requests = honest.manifest.files.flatMap { file in
                    file.chunks.map { ChunkRequest(id: $0.id, path: file.path, offset: $0.offset, length: $0.length) }
                }
                let fetcher = PeerChunkFetcher(peers: [hostile, honest.address], client: client, fallback: nil)
                try await fetcher.fetch(requests, source: honest.manifest.source, into: target, priority: .preheat) { _ in }
                for id in ids { #expect(try target.read(id) == honest.store.read(id)) }
            }
        }
    }
}
