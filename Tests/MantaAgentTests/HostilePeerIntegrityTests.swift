import Foundation
import MantaHub
import MantaStore
import MantaTestSupport
import Testing

@testable import MantaAgent

/// No byte of a model has a peer as its only authority: a peer whose store was changed thoroughly (bytes, chunk ids,
/// SHA-256 and manifest all consistent) cannot pass off another `config.json`, which the hub gives no SHA-256 for.
@Suite struct HostilePeerIntegrityTests {
    @Test func aPeerOfferingAChangedConfigLosesToTheHubsBytesAndVerifyFindsItsChange() async throws {
        try await AgentSwarm.with(agents: 2) { swarm in
            let (tampered, puller) = (swarm.agents[0], swarm.agents[1])
            _ = try await tampered.pull(swarm.model)
            let reference = try RepoReference(parsing: "acme/shards@main")
            let hubConfig = try tampered.store.requireManifest(reference).manifest.file(at: "config.json")
            let original = try await blocking { [store = tampered.store] in
                try hubConfig.map { try $0.chunks.flatMap { try store.read($0.id) } } ?? []
            }
            try #require(!original.isEmpty)
            let changed = try await blocking { [store = tampered.store] in
                try TamperedModel.change("config.json", original: original, of: reference, in: store)
            }
            swarm.hub.statistics.reset()

            let summary = try await puller.pull(swarm.model)
            let config = try #require(summary.manifest.file(at: "config.json"))
            let taken = try await blocking { [store = puller.store] in try config.chunks.flatMap { try store.read($0.id) } }
            #expect(taken == original && taken != changed, "the pulling node ends with the hub's config.json")
            #expect(swarm.hub.statistics.totalBytesServed > 0, "the file came from the hub")
            try swarm.expectComplete(puller)

            let report = try await blocking { [store = tampered.store] in try store.verify() }
            #expect(report.changedFiles.map(\.path) == ["config.json"])
        }
    }
}
