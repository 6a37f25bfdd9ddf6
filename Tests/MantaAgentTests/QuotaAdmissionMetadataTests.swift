import Foundation
import MantaAgent
import MantaHub
import MantaStore
import MantaTestSupport
import Testing

/// A pull through an agent under a quota reads the revision's hub metadata once: the snapshot its admission was
/// decided on is the one it pulls.
@Suite(.timeLimit(.minutes(2))) struct QuotaAdmissionMetadataTests {
    @Test func aPullUnderAQuotaAsksTheHubAsOftenAsAPlainPull() async throws {
        let scratch = try TemporaryDirectory()
        for (seed, name) in ["one", "two"].enumerated() {
            try QuotaEvictionTests.QuotaNode.writeModel(at: scratch.appending("hub/acme/\(name)"), bytes: 300_000, seed: seed + 1)
        }
        let hub = HubServer(configuration: try HubServerConfiguration(root: scratch.appending("hub")))
        try await hub.withRunning { address in
            let hubConfiguration = try HubClientConfiguration(endpoint: address.endpoint)
            // The same shape of model, pulled straight from the hub, which reads the metadata once.
            hub.statistics.reset()
            let plain = try Store(root: scratch.appending("plain"))
            _ = try await ModelPuller(store: plain, client: HubClient(configuration: hubConfiguration)).pull(try HubModelReference("acme/one"))
            let plainRequests = hub.statistics.requestCount
            #expect(plainRequests > 0)

            var configuration = AgentConfiguration(
                storeRoot: scratch.appending("agent"), listenHost: "127.0.0.1", listenPort: 0, hub: hubConfiguration)
            configuration.storeChanges = StoreConfigurationChanges(quotaBytes: 100_000_000)
            let agent = try AgentService(configuration: configuration)
            hub.statistics.reset()
            let summary = try await agent.pull(try HubModelReference("acme/two"))
            #expect(summary.manifest.files.map(\.path) == ["weights.bin"])
            #expect(hub.statistics.requestCount == plainRequests, "the quota's admission read the hub's metadata a second time")
        }
    }
}
