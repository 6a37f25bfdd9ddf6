import MantaKube
import MantaTransfer
import Testing

@Suite(.timeLimit(.minutes(3))) struct NodeAgentBindingTests {
    @Test func publishCreatesTheTrackerOnceAndUpdatesItsStatus() async throws {
        try await KubeTestEnvironment.with { env in
            let agent = NodeAgentBinding(client: env.client, nodeName: "node-a")
            try await agent.publish(.init(capacityBytes: 100, freeBytes: 60, address: "10.0.0.5:8470"))
            let second = try await agent.publish(.init(capacityBytes: 100, freeBytes: 40, address: "10.0.0.5:8470"))
            #expect(second.status?.freeBytes == 40)
            #expect(second.nodeName == "node-a")
            #expect(try await env.client.list(NodeTracker.self).items.count == 1)
        }
    }

    @Test func theAgentSeesOnlyItsNodesReplicationsAndReportsTheirStatus() async throws {
        try await KubeTestEnvironment.with { env in
            let source = Replication.Source(hub: "Huggingface", repoID: "a/b", revision: "main", commit: "c", filename: nil, totalBytes: 10)
            for node in ["node-a", "node-b"] {
                _ = try await env.client.create(
                    Replication(
                        metadata: ObjectMeta(name: Replication.name(torrent: "t", node: node), labels: [Replication.nodeLabel: node]),
                        spec: .init(torrentName: "t", nodeName: node, source: source)))
            }
            let agent = NodeAgentBinding(client: env.client, nodeName: "node-a")
            let informer = agent.replications(backoff: Backoff(initial: .milliseconds(10))) { _ in }
            let task = Task { await informer.run() }
            defer { task.cancel() }
            await informer.waitForSync()
            #expect(informer.items.map(\.spec.nodeName) == ["node-a"])

            let reported = try await agent.report("t.node-a", .init(phase: .replicating, bytesDone: 4, bytesTotal: 10))
            #expect(reported?.status?.phase == .replicating)
            #expect(reported?.spec.torrentName == "t", "the spec is untouched")
            await #expect(throws: KubeError.self, "another node's Replication is not this agent's to report") {
                try await agent.report("t.node-b", .init(phase: .ready))
            }
            #expect(try await agent.report("t.gone", .init(phase: .ready)) == nil)
        }
    }
}
