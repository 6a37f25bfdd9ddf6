import Foundation
import MantaHub
import MantaPeer
import MantaStore
import MantaTestSupport
import MantaTransfer
import Testing

/// Three nodes on 127.0.0.1: A pulled the GGUF model from a real hub server; C imported the same files;
/// B starts empty and fetches through `PeerChunkFetcher` with the hub as fallback.
struct Swarm: Sendable {
    let hub: HubServer
    let hubClient: HubClient
    let a: Store, b: Store, c: Store
    let manifest: Manifest
    let peerA: PeerAddress, peerC: PeerAddress

    var requests: [ChunkRequest] { manifest.files.flatMap { ChunkRequest.missing(from: $0, in: b) } }

    func fetcher(peers: [PeerAddress], fallback: Bool = true) -> PeerChunkFetcher {
        PeerChunkFetcher(
            peers: peers, client: PeerClient(token: "t", timeout: .seconds(3)),
            fallback: fallback ? HubChunkFetcher(client: hubClient) : nil, perPeerConcurrency: 2
        )
    }

    static func with(aUploadRate: UInt64? = nil, _ body: @Sendable (Swarm, _ stopA: @escaping @Sendable () -> Void) async throws -> Void) async throws
    {
        let scratch = try TemporaryDirectory()
        let repos = scratch.appending("hub/acme/gguf")
        try Fixtures.copy(try Fixtures.gguf(), to: repos)
        let hub = HubServer(configuration: try HubServerConfiguration(root: scratch.appending("hub")))
        try await hub.withRunning { address in
            let client = HubClient(configuration: try HubClientConfiguration(endpoint: address.endpoint))
            let a = try Store(root: scratch.appending("a"))
            let b = try Store(root: scratch.appending("b"))
            let c = try Store(root: scratch.appending("c"))
            let pulled = try await ModelPuller(store: a, client: client).pull(try HubModelReference("acme/gguf"))
            try await Task.detached { _ = try c.importDirectory(repos, as: try RepoReference(parsing: "acme/gguf")) }.value
            let serverA = PeerServer(store: a, configuration: .init(token: "t", uploadRate: aUploadRate))
            let serverC = PeerServer(store: c, configuration: .init(token: "t"))
            try await RunningServices.with([serverC]) { _ in
                try await RunningServices.with([serverA]) { runningA in
                    hub.statistics.reset()
                    let swarm = Swarm(
                        hub: hub, hubClient: client, a: a, b: b, c: c, manifest: pulled.manifest,
                        peerA: PeerAddress(host: "127.0.0.1", port: await serverA.boundPort()),
                        peerC: PeerAddress(host: "127.0.0.1", port: await serverC.boundPort())
                    )
                    try await body(swarm) { Task { await runningA.stop() } }
                }
            }
        }
    }

    func bIsComplete() -> Bool { manifest.chunkIDs.allSatisfy(b.contains) }

    /// Flips a byte in each of A's chunk files, so that A serves wrong bytes for every chunk.
    func corruptEveryChunkOfA() throws {
        for id in manifest.chunkIDs {
            let path = try #require(a.location(of: id)).path
            var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[bytes.count / 2] ^= 0x55
            chmod(path, 0o644)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
    }
}

@Suite struct PeerFetchTests {
    @Test func anEmptyNodeGetsEverythingFromPeersAndNothingFromTheHub() async throws {
        try await Swarm.with { swarm, _ in
            try await swarm.fetcher(peers: [swarm.peerA, swarm.peerC]).fetch(
                swarm.requests, source: swarm.manifest.source, into: swarm.b, priority: .preheat
            ) { _ in }
            #expect(swarm.bIsComplete())
            #expect(swarm.hub.statistics.totalBytesServed == 0)
            for id in swarm.manifest.chunkIDs { #expect(try swarm.b.read(id).count > 0) }
        }
    }

    @Test func aPeerSendingWrongBytesIsDroppedAndTheChunkComesFromAnother() async throws {
        try await Swarm.with { swarm, _ in
            try swarm.corruptEveryChunkOfA()
            try await swarm.fetcher(peers: [swarm.peerA, swarm.peerC], fallback: false)
                .fetch(swarm.requests, source: swarm.manifest.source, into: swarm.b, priority: .preheat) { _ in }
            #expect(swarm.bIsComplete())
            let report = try swarm.b.verify()
            #expect(report.isClean)
            #expect(report.chunksChecked == swarm.manifest.chunkIDs.count)
        }
    }

    @Test func whenAPeerStopsMidFetchTheRestComesFromTheOthers() async throws {
        try await Swarm.with(aUploadRate: 4_000_000) { swarm, stopA in
            // A shuts down as soon as its first chunk has arrived: it finishes the chunks in flight and refuses the rest.
            try await swarm.fetcher(peers: [swarm.peerA]).fetch(swarm.requests, source: swarm.manifest.source, into: swarm.b, priority: .preheat) {
                _ in
                stopA()
            }
            #expect(swarm.bIsComplete())
            #expect(swarm.hub.statistics.totalBytesServed > 0, "what A did not send came from the hub")
            #expect(swarm.hub.statistics.totalBytesServed < Int64(swarm.manifest.logicalSize), "what A sent was kept")
            #expect(try swarm.b.verify().isClean)
        }
    }

    @Test func withNoPeerHoldingTheChunksAndNoHubTheErrorSaysWhatToDo() async throws {
        try await Swarm.with { swarm, _ in
            let nobody = PeerAddress(host: "127.0.0.1", port: 1)
            await #expect(throws: PeerFetchError.noSource(missing: swarm.requests.count, peersAsked: 1)) {
                try await swarm.fetcher(peers: [nobody], fallback: false).fetch(
                    swarm.requests, source: swarm.manifest.source, into: swarm.b, priority: .preheat
                ) { _ in }
            }
        }
    }
}
