import Foundation
import MantaAgent
import MantaKube
import MantaTestSupport
import Testing

/// `preheat: false`: every eligible node registers the model for lazy reads, and that counts as ready.
@Suite(.timeLimit(.minutes(3))) struct LazyTorrentControllerTests {
    @Test func everyEligibleNodeRegistersTheModelAndNoOtherDoes() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("gpu-a", labels: ["gpu": "true"])
            try await harness.addNode("gpu-b", labels: ["gpu": "true"])
            try await harness.addNode("cpu-c")
            _ = try await harness.client.create(Torrent.sample("lazy", preheat: false, nodeSelector: ["gpu": "true"]))
            let registrations = try await harness.waitForReplicas("lazy", count: 2)
            #expect(registrations.map(\.spec.nodeName).sorted() == ["gpu-a", "gpu-b"])
            #expect(registrations.allSatisfy { $0.isLazy }, "metadata only: the agents register, they do not pull")
            let registering = try await harness.waitForPhase("lazy", .replicating)
            #expect(registering.status?.conditions?[type: "Replicating"]?.message == "0/2 replicas ready")

            try await harness.report("lazy", on: "gpu-a", .ready)
            try await harness.report("lazy", on: "gpu-b", .ready)
            let ready = try await harness.waitForPhase("lazy", .ready)
            #expect(ready.status?.conditions?[type: "Ready"]?.reason == "Registered")
            #expect(ready.status?.readyReplicas == 2)
            #expect(ready.status?.nodes?.map(\.nodeName) == ["gpu-a", "gpu-b"])
            try await eventually("the registered nodes are labelled") {
                let a = try await harness.client.get(Node.self, name: "gpu-a").labels["torrent.manta.io/lazy"]
                let b = try await harness.client.get(Node.self, name: "gpu-b").labels["torrent.manta.io/lazy"]
                return a == "registered" && b == "registered"
            }
            #expect(try await harness.client.get(Node.self, name: "cpu-c").labels["torrent.manta.io/lazy"] == nil)

            // `manta wait` reads a registration as ready; a node outside the nodeSelector has none.
            let onGPU = try await TorrentWaiter(source: .cluster(harness.client, nodeName: "gpu-a"), poll: .milliseconds(20))
                .status(of: "lazy")
            #expect(onGPU.state == .ready)
            let onCPU = try await TorrentWaiter(source: .cluster(harness.client, nodeName: "cpu-c")).status(of: "lazy")
            #expect(onCPU.state == .notPlaced)
            #expect(onCPU.message?.contains("only nodes matching its nodeSelector") == true, "\(onCPU.message ?? "")")

            // A node that joins the pool registers it too.
            try await harness.addNode("gpu-d", labels: ["gpu": "true"])
            _ = try await harness.waitForReplicas("lazy", count: 3)
            _ = try await harness.waitForTorrent("lazy", "registering on the new node") { $0.status?.phase == .replicating }
            try await harness.report("lazy", on: "gpu-d", .ready)
            _ = try await harness.waitForTorrent("lazy", "ready on three") { $0.status?.phase == .ready && $0.status?.readyReplicas == 3 }
        }
    }

    @Test func withNoEligibleNodeTheTorrentIsPendingAndSaysWhy() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("cpu-a")
            _ = try await harness.client.create(Torrent.sample("lazy", preheat: false, nodeSelector: ["gpu": "true"]))
            let pending = try await harness.waitForTorrent("lazy", "pending with a reason") {
                $0.status?.phase == .pending && $0.status?.conditions?[type: "Pending"]?.reason == "Unschedulable"
            }
            #expect(pending.status?.conditions?[type: "Pending"]?.message.contains("nodeSelector") == true)
            #expect(try await harness.replications(of: "lazy").isEmpty)
        }
    }

    @Test func turningPreheatOnReplacesTheRegistrationsWithPulls() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            try await harness.addNode("node-b")
            _ = try await harness.client.create(Torrent.sample("lazy", preheat: false))
            _ = try await harness.waitForReplicas("lazy", count: 2)
            _ = try await harness.client.mergePatch(Torrent.self, name: "lazy", patch: ["spec": ["preheat": true]])
            try await eventually("one pulled replica replaces the registrations") {
                let replications = try await harness.replications(of: "lazy")
                return replications.count == 1 && replications.allSatisfy { !$0.isLazy }
            }
        }
    }

    @Test func aPodOnANodeOutsideTheSelectorGetsALazyRegistrationThere() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("gpu-a", labels: ["gpu": "true"])
            try await harness.addNode("cpu-b")
            _ = try await harness.client.create(Torrent.sample("lazy", preheat: false, nodeSelector: ["gpu": "true"]))
            _ = try await harness.waitForReplicas("lazy", count: 1)
            _ = try await harness.client.create(PodLabelPlacementTests.pod("llm-0", torrent: "lazy", node: "cpu-b"))
            let both = try await harness.waitForReplicas("lazy", count: 2)
            let forPod = try #require(both.first { $0.spec.nodeName == "cpu-b" })
            #expect(forPod.isForPods && forPod.isLazy)
        }
    }
}
