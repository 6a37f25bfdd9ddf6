import MantaHub
import MantaPeer
import MantaStore
import MantaTransfer
import Testing

@testable import MantaAgent

/// A swarm pull takes a complete revision's chunks through `SwarmPuller.intake`: each chunk is checked against its
/// id and its file's SHA-256 is made as the chunks arrive.
@Suite struct SwarmIntakeTests {
    @Test func eachFileIsHashedAsItsChunksArriveAndAPeersWrongBytesNeverEnterTheHash() async throws {
        try await Swarm.with { swarm, _ in
            try swarm.corruptEveryChunkOfA()
            let digests = FileDigests(swarm.manifest.files.map { FileDigestSequencer(path: $0.path, size: $0.size, pairing: .ownPools) })
            try await ModelPuller.withThreadPool(threads: 4) { pool in
                let fetcher = PeerChunkFetcher(
                    peers: [swarm.peerA, swarm.peerC], client: PeerClient(token: "t", timeout: .seconds(3)), fallback: nil, perPeerConcurrency: 2,
                    intake: SwarmPuller.intake(feeding: digests, on: pool))
                try await fetcher.fetch(swarm.requests, source: swarm.manifest.source, into: swarm.b, priority: .preheat) { _ in }
            }
            #expect(swarm.bIsComplete())
            #expect(try swarm.b.verify().isClean)
            var seen = Set<ChunkID>()
            for file in swarm.manifest.files {
                let sequencer = try #require(digests[file.path])
                // A chunk met before is fetched once, for its first place: the file's hash reads it back from the store at the end.
                let fedWhileFetching = file.chunks.prefix { seen.insert($0.id).inserted }
                #expect(sequencer.hashedChunks.starts(with: fedWhileFetching))
                #expect(try sequencer.finish(store: swarm.b) == file.sha256)
                seen.formUnion(file.chunks.map(\.id))
            }
        }
    }
}
