import Foundation
import MantaAgent
import MantaKube
import MantaTestSupport
import MantaTransfer
import Testing

/// The original Manta's pod label (`manta.io/torrent-name`) and the Node labels that say where a model is.
@Suite(.timeLimit(.minutes(3)), .threadsOfItsOwn) struct PodLabelPlacementTests {
    static let namespace = "inference"

    static func pod(_ name: String, torrent: String, node: String? = nil) -> Pod {
        Pod(name: name, namespace: namespace, labels: [Torrent.nameLabel: torrent, "app": "llm"], nodeName: node)
    }

    /// Binds a pod to a node, as the scheduler does.
    static func bind(_ pod: String, to node: String, _ harness: ControllerHarness) async throws {
        _ = try await harness.client.mergePatch(Pod.self, name: pod, namespace: namespace, patch: ["spec": ["nodeName": .string(node)]])
    }

    static func label(of torrent: String, on node: String, _ harness: ControllerHarness) async throws -> String? {
        try await harness.client.get(Node.self, name: node).labels[Torrent.nodeLabelKey(for: torrent)]
    }

    @Test func aLabelledPodGetsAReplicationOnTheNodeItIsBoundToThatBecomesReady() async throws {
        try await ControllerHarness.with { harness in
            for node in ["node-a", "node-b", "node-c"] { try await harness.addNode(node) }
            _ = try await harness.client.create(Torrent.sample("qwen", replicas: 1))
            let scheduled = try #require(try await harness.waitForReplicas("qwen", count: 1).first)
            let podNode = scheduled.spec.nodeName == "node-a" ? "node-b" : "node-a"

            _ = try await harness.client.create(Self.pod("llm-0", torrent: "qwen"))
            try await Self.bind("llm-0", to: podNode, harness)
            let both = try await harness.waitForReplicas("qwen", count: 2)
            let forPod = try #require(both.first { $0.spec.nodeName == podNode })
            #expect(forPod.isForPods)
            #expect(forPod.name == Replication.name(torrent: "qwen", node: podNode), "one stable name per Torrent and node")
            #expect(forPod.metadata.ownerReferences?.first?.name == "qwen")
            let kept = try #require(both.first { $0.spec.nodeName == scheduled.spec.nodeName })
            #expect(!kept.isForPods)

            try await harness.report("qwen", on: podNode, .ready)
            let readyOnPodNode = Torrent.NodeProgress(nodeName: podNode, phase: .ready, bytesDone: 0, bytesTotal: 0)
            let progressed = try await harness.waitForTorrent("qwen", "the pod's node shows Ready") { torrent in
                let shown = torrent.status?.nodes?.map { Torrent.NodeProgress(nodeName: $0.nodeName, phase: $0.phase, bytesDone: 0, bytesTotal: 0) }
                return shown?.contains(readyOnPodNode) ?? false
            }
            #expect(progressed.status?.phase == .replicating, "replicas counts the Torrent's own replicas, not the pods'")
            try await eventually("\(podNode) is labelled ready") { try await Self.label(of: "qwen", on: podNode, harness) == "ready" }

            try await harness.report("qwen", on: scheduled.spec.nodeName, .ready)
            let ready = try await harness.waitForPhase("qwen", .ready)
            #expect(ready.status?.readyReplicas == 1)
            #expect(ready.status?.nodes?.count == 2)
            try await eventually("both nodes are labelled") { try await Self.label(of: "qwen", on: scheduled.spec.nodeName, harness) == "ready" }
            let onPodNode = try await TorrentWaiter(source: .cluster(harness.client, nodeName: podNode)).status(of: "qwen")
            #expect(onPodNode.state == .ready)
        }
    }

    @Test func aPodOnANodeThatHoldsAReplicaAddsNothingAndAnUnboundPodWaits() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            try await harness.addNode("node-b")
            _ = try await harness.client.create(Torrent.sample("qwen", replicas: 1))
            let scheduled = try #require(try await harness.waitForReplicas("qwen", count: 1).first)
            _ = try await harness.client.create(Self.pod("unbound", torrent: "qwen"))
            _ = try await harness.client.create(Self.pod("beside", torrent: "qwen", node: scheduled.spec.nodeName))
            let other = scheduled.spec.nodeName == "node-a" ? "node-b" : "node-a"
            _ = try await harness.client.create(Self.pod("other-model", torrent: "absent", node: other))
            // A later pod shows the controller has seen the earlier ones.
            _ = try await harness.client.create(Self.pod("marker", torrent: "qwen", node: other))
            _ = try await harness.waitForReplicas("qwen", count: 2)
            #expect(try await harness.nodes(of: "qwen") == ["node-a", "node-b"])
            #expect(try await harness.client.list(Replication.self).items.allSatisfy { $0.spec.torrentName == "qwen" }, "no Torrent, no Replication")
        }
    }

    /// As the original (a temporary Torrent with `Retain` and a TTL of 0), the node keeps the files; here the
    /// Replication, and the pin with it, stays while a labelled pod still runs on the node.
    @Test func theReplicationGoesWhenTheLastPodOnItsNodeIsGoneAndTheFilesStay() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            try await harness.addNode("node-b", labels: ["pool": "spare"])
            _ = try await harness.client.create(Torrent.sample("qwen", replicas: 1, reclaimPolicy: .delete, nodeSelector: ["pool": "main"]))
            _ = try await harness.waitForTorrent("qwen", "unschedulable") { $0.status?.phase == .pending && $0.status?.repo != nil }
            _ = try await harness.client.create(Self.pod("llm-0", torrent: "qwen", node: "node-b"))
            _ = try await harness.client.create(Self.pod("llm-1", torrent: "qwen", node: "node-b"))
            let placed = try #require(try await harness.waitForReplicas("qwen", count: 1).first)
            #expect(placed.spec.nodeName == "node-b" && placed.isForPods, "a pod's node gets the model even outside the nodeSelector")
            try await harness.report("qwen", on: "node-b", .ready)
            try await eventually("node-b is labelled ready") { try await Self.label(of: "qwen", on: "node-b", harness) == "ready" }

            try await harness.client.delete(Pod.self, name: "llm-0", namespace: Self.namespace)
            _ = try await harness.client.mergePatch(
                Pod.self, name: "llm-1", namespace: Self.namespace, patch: ["metadata": ["labels": ["restarted": "once"]]])
            // Nothing to wait for but time: the controller must leave the Replication alone.
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await harness.replications(of: "qwen").count == 1, "llm-1 still runs on node-b")

            _ = try await harness.client.mergePatch(
                Pod.self, name: "llm-1", namespace: Self.namespace, patch: ["status": ["phase": "Succeeded"]])
            try await eventually("the Replication is deleted, not reclaimed") { try await harness.replications(of: "qwen").isEmpty }
            try await eventually("node-b's label goes with it") { try await Self.label(of: "qwen", on: "node-b", harness) == nil }
        }
    }

    @Test func nodeLabelsFollowReadinessAndGoWithTheTorrent() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a", labels: ["zone": "x"])
            try await harness.addNode("node-b")
            _ = try await harness.client.create(Torrent.sample("qwen", replicas: 2))
            _ = try await harness.waitForReplicas("qwen", count: 2)
            try await harness.report("qwen", on: "node-a", .ready)
            try await eventually("node-a is labelled") { try await Self.label(of: "qwen", on: "node-a", harness) == "ready" }
            #expect(try await Self.label(of: "qwen", on: "node-b", harness) == nil, "node-b holds nothing yet")
            #expect(try await harness.client.get(Node.self, name: "node-a").labels["zone"] == "x", "other labels stay")

            try await harness.report("qwen", on: "node-a", .failed, message: "disk full")
            try await eventually("node-a loses the label when its copy is not ready") {
                try await Self.label(of: "qwen", on: "node-a", harness) == nil
            }
            try await harness.report("qwen", on: "node-a", .ready)
            try await harness.report("qwen", on: "node-b", .ready)
            _ = try await harness.waitForPhase("qwen", .ready)
            try await eventually("both labelled") {
                let labels = [try await Self.label(of: "qwen", on: "node-a", harness), try await Self.label(of: "qwen", on: "node-b", harness)]
                return labels == ["ready", "ready"]
            }

            try await harness.client.delete(Torrent.self, name: "qwen")
            try await harness.waitForGone("qwen")
            try await eventually("the labels go with the Torrent") {
                let labels = [try await Self.label(of: "qwen", on: "node-a", harness), try await Self.label(of: "qwen", on: "node-b", harness)]
                return labels == [nil, nil]
            }
        }
    }

    @Test func aWaitOnANodeWithoutAReplicaOfAReadyTorrentEndsWithTheReason() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            try await harness.addNode("node-b")
            _ = try await harness.client.create(Torrent.sample("qwen", replicas: 1))
            let scheduled = try #require(try await harness.waitForReplicas("qwen", count: 1).first)
            try await harness.report("qwen", on: scheduled.spec.nodeName, .ready)
            _ = try await harness.waitForPhase("qwen", .ready)
            let elsewhere = scheduled.spec.nodeName == "node-a" ? "node-b" : "node-a"
            // The grace and the timeout run on a test clock: the wait ends by the grace, which comes first, however
            // slowly the API answers on a busy machine.
            let clock = ManualClock()
            let waiter = TorrentWaiter(
                source: .cluster(harness.client, nodeName: elsewhere), poll: .seconds(1), notPlacedGrace: .seconds(60), clock: clock)
            do {
                _ = try await clock.run { try await waiter.wait(torrent: "qwen", timeout: .seconds(3600)) }
                Issue.record("the wait ended Ready on a node without the model")
            } catch let error as WaitError {
                guard case .notPlaced(let status, _) = error else { throw error }
                #expect(status.node == elsewhere)
                #expect(clock.now.offset >= .seconds(60) && clock.now.offset < .seconds(120), "\(clock.now.offset)")
                #expect(error.description.contains("label the pod manta.io/torrent-name=qwen"), "\(error)")
                #expect(error.description.contains("torrent.manta.io/qwen"), "\(error)")
            }
        }
    }

    @Test func nodeLabelKeysAreValidAndStableForLongNames() {
        #expect(Torrent.nodeLabelKey(for: "qwen3-0-6b") == "torrent.manta.io/qwen3-0-6b")
        let long = String(repeating: "a", count: 40) + "." + String(repeating: "b", count: 40)
        let other = String(repeating: "a", count: 40) + "." + String(repeating: "c", count: 40)
        let key = Torrent.nodeLabelKey(for: long)
        let name = key.dropFirst(Torrent.nodeLabelPrefix.count)
        #expect(name.count <= 63)
        #expect(name.first?.isLetter == true && (name.last?.isLetter == true || name.last?.isNumber == true))
        #expect(name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
        #expect(key == Torrent.nodeLabelKey(for: long), "stable")
        #expect(key != Torrent.nodeLabelKey(for: other), "names sharing a prefix get different keys")
    }
}

extension PodLabelPlacementTests {
    @Test func aPodDecodesFromWhatTheAPIServerSendsAndAnUnknownPhaseIsUnknown() throws {
        let json = """
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"llm-0","namespace":"inference","labels":{"manta.io/torrent-name":"qwen"}},
             "spec":{"nodeName":"node-a","containers":[{"name":"server","image":"vllm"}]},"status":{"phase":"Hibernating","podIP":"10.0.0.7"}}
            """
        let pod = try KubeJSON.decoder().decode(Pod.self, from: Data(json.utf8))
        #expect(pod.torrentName == "qwen")
        #expect(pod.status?.phase == .unknown)
        #expect(pod.nodeNeedingModel == "node-a")
        var finished = pod
        finished.status?.phase = .succeeded
        #expect(finished.nodeNeedingModel == nil)
    }
}
