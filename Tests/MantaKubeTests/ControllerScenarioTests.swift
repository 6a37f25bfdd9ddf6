import Foundation
import MantaKube
import MantaTestSupport
import Testing

/// The original Manta's controller integration scenarios, and the lifecycle cases around them.
@Suite(.timeLimit(.minutes(3))) struct ControllerScenarioTests {
    let gib = ControllerHarness.gib

    @Test func aWholeRepoIsResolvedPlacedAndBecomesReady() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            _ = try await harness.client.create(Torrent.sample("qwen"))
            let pending = try await harness.waitForTorrent("qwen", "repo resolved and replicating") { $0.status?.phase == .replicating }
            #expect(pending.status?.repo?.commit == "c1e5ad7a0b5c5e7c8e3d4f1a2b3c4d5e6f7a8b9c")
            #expect(pending.status?.repo?.files.map(\.path) == ["config.json", "model.safetensors"])
            #expect(pending.metadata.finalizers == [Torrent.finalizer])
            let replications = try await harness.waitForReplicas("qwen", count: 1)
            #expect(replications.first?.spec.nodeName == "node-a")
            #expect(replications.first?.spec.source.totalBytes == pending.status?.repo?.totalBytes)
            #expect(replications.first?.metadata.ownerReferences?.first?.uid == pending.metadata.uid)

            try await harness.report("qwen", on: "node-a", .replicating, bytesDone: gib)
            _ = try await harness.waitForTorrent("qwen", "progress rolled up") { $0.status?.nodes?.first?.bytesDone == gib }
            try await harness.report("qwen", on: "node-a", .ready)
            let ready = try await harness.waitForPhase("qwen", .ready)
            #expect(ready.status?.readyReplicas == 1)
            #expect(ready.status?.manifestDigest == "sha256:" + String(repeating: "0f", count: 32))
            #expect(ready.status?.observedGeneration == ready.metadata.generation)
            #expect(ready.status?.conditions?[type: "Ready"]?.status == .true)
            #expect(ready.status?.conditions?[type: "Replicating"]?.status == .false)
        }
    }

    @Test func aSingleFileTorrentResolvesOnlyThatFile() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            _ = try await harness.client.create(
                Torrent.sample("gguf", repoID: "Qwen/Qwen2-0.5B-Instruct-GGUF", filename: "qwen2-0_5b-instruct-q5_k_m.gguf"))
            let replications = try await harness.waitForReplicas("gguf", count: 1)
            #expect(replications.first?.spec.source.filename == "qwen2-0_5b-instruct-q5_k_m.gguf")
            #expect(replications.first?.spec.source.totalBytes == 400 << 20)
            let torrent = try await harness.waitForTorrent("gguf", "repo resolved") { $0.status?.repo != nil }
            #expect(torrent.status?.repo?.files.map(\.path) == ["qwen2-0_5b-instruct-q5_k_m.gguf"])
        }
    }

    @Test func oneReplicaGoesToExactlyOneNode() async throws {
        try await ControllerHarness.with { harness in
            for node in ["node-a", "node-b", "node-c"] { try await harness.addNode(node) }
            _ = try await harness.client.create(Torrent.sample("one", replicas: 1))
            _ = try await harness.waitForReplicas("one", count: 1)
            _ = try await harness.waitForPhase("one", .replicating)
            #expect(try await harness.replications(of: "one").count == 1)
        }
    }

    @Test func severalReplicasGoToDistinctNodesAndReadyCountsThem() async throws {
        try await ControllerHarness.with { harness in
            for node in ["node-a", "node-b", "node-c"] { try await harness.addNode(node) }
            _ = try await harness.client.create(Torrent.sample("three", replicas: 3))
            _ = try await harness.waitForReplicas("three", count: 3)
            #expect(try await harness.nodes(of: "three") == ["node-a", "node-b", "node-c"])
            try await harness.report("three", on: "node-a", .ready)
            try await harness.report("three", on: "node-b", .ready)
            let partial = try await harness.waitForTorrent("three", "two ready") { $0.status?.readyReplicas == 2 }
            #expect(partial.status?.phase == .replicating)
            try await harness.report("three", on: "node-c", .ready)
            _ = try await harness.waitForTorrent("three", "all ready") { $0.status?.phase == .ready && $0.status?.readyReplicas == 3 }
        }
    }

    @Test func moreReplicasThanNodesPlacesWhatFitsAndSaysWhy() async throws {
        try await ControllerHarness.with { harness in
            for node in ["node-a", "node-b"] { try await harness.addNode(node) }
            _ = try await harness.client.create(Torrent.sample("many", replicas: 3))
            _ = try await harness.waitForReplicas("many", count: 2)
            let torrent = try await harness.waitForTorrent("many", "partial scheduling explained") {
                $0.status?.conditions?[type: "Replicating"]?.message.contains("0/2 nodes are available: 2 node(s) already held a replica") == true
            }
            #expect(torrent.status?.conditions?[type: "Replicating"]?.reason == "PartiallyScheduled")
        }
    }

    @Test func nodeSelectorLimitsThePlacement() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("cpu-1", labels: ["accelerator": "none"])
            try await harness.addNode("gpu-1", labels: ["accelerator": "h100"])
            try await harness.addNode("gpu-2", labels: ["accelerator": "h100"])
            _ = try await harness.client.create(Torrent.sample("sel", replicas: 3, nodeSelector: ["accelerator": "h100"]))
            _ = try await harness.waitForReplicas("sel", count: 2)
            #expect(try await harness.nodes(of: "sel") == ["gpu-1", "gpu-2"])
            let torrent = try await harness.waitForTorrent("sel", "the rejected node is explained") {
                $0.status?.conditions?[type: "Replicating"]?.message.contains("1 node(s) didn't match nodeSelector") == true
            }
            #expect(torrent.status?.phase == .replicating)
        }
    }

    @Test func diskAwareFilterSkipsNodesWithoutRoom() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("small", freeBytes: gib)
            _ = try await harness.client.create(Torrent.sample("big"))
            let pending = try await harness.waitForTorrent("big", "unschedulable for disk") {
                $0.status?.conditions?[type: "Pending"]?.message.contains("1 node(s) had too little free disk") == true
            }
            #expect(pending.status?.phase == .pending)
            #expect(pending.status?.conditions?[type: "Pending"]?.reason == "Unschedulable")
            try await harness.addNode("large", freeBytes: 10 * gib)
            _ = try await harness.waitForReplicas("big", count: 1)
            #expect(try await harness.nodes(of: "big") == ["large"])
        }
    }

    @Test func diskAwareScorePrefersTheNodeWithMostRoomLeft() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a", freeBytes: 20 * gib)
            try await harness.addNode("node-b", freeBytes: 90 * gib)
            try await harness.addNode("node-c", freeBytes: 50 * gib)
            _ = try await harness.client.create(Torrent.sample("roomy", replicas: 2))
            _ = try await harness.waitForReplicas("roomy", count: 2)
            #expect(try await harness.nodes(of: "roomy") == ["node-b", "node-c"])
        }
    }

    @Test func cacheLocalityPrefersTheNodeThatHoldsTheModel() async throws {
        try await ControllerHarness.with { harness in
            let total = gib + gib / 2 + 726
            let cached = NodeTracker.CachedModel(
                repoID: "Qwen/Qwen3-0.6B", commit: "c1e5ad7a0b5c5e7c8e3d4f1a2b3c4d5e6f7a8b9c", cachedBytes: total, totalBytes: total)
            try await harness.addNode("empty-roomy", freeBytes: 150 * gib)
            try await harness.addNode("warm", freeBytes: 10 * gib, models: [cached])
            _ = try await harness.client.create(Torrent.sample("warm-start"))
            _ = try await harness.waitForReplicas("warm-start", count: 1)
            #expect(try await harness.nodes(of: "warm-start") == ["warm"])
        }
    }

    @Test func withNothingToDispatchTheTorrentWaitsAndThenProceeds() async throws {
        try await ControllerHarness.with { harness in
            _ = try await harness.client.create(Torrent.sample("lonely"))
            let pending = try await harness.waitForTorrent("lonely", "pending without nodes") {
                $0.status?.conditions?[type: "Pending"]?.message.contains("0/0 nodes are available") == true
            }
            #expect(pending.status?.phase == .pending)
            #expect(try await harness.replications(of: "lonely").isEmpty)
            try await harness.addNode("node-a")
            _ = try await harness.waitForReplicas("lonely", count: 1)
        }
    }

    @Test func preheatFalseRegistersWithoutPullingUntilTurnedOn() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            _ = try await harness.client.create(Torrent.sample("lazy", preheat: false))
            let registration = try #require(try await harness.waitForReplicas("lazy", count: 1).first)
            #expect(registration.isLazy, "the agent registers the model, it does not pull it")
            try await harness.report("lazy", on: "node-a", .ready)
            let registered = try await harness.waitForPhase("lazy", .ready)
            #expect(registered.status?.conditions?[type: "Ready"]?.reason == "Registered")
            #expect(registered.status?.repo?.commit != nil)
            _ = try await harness.client.mergePatch(Torrent.self, name: "lazy", patch: ["spec": ["preheat": true]])
            try await eventually("a pulled replica replaces the registration") {
                try await harness.replications(of: "lazy").map(\.isLazy) == [false]
            }
            _ = try await harness.waitForPhase("lazy", .replicating)
        }
    }

    @Test func deletionWithRetainDropsReplicationsAndReleasesTheTorrent() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            _ = try await harness.client.create(Torrent.sample("keep", reclaimPolicy: .retain))
            _ = try await harness.waitForReplicas("keep", count: 1)
            try await harness.report("keep", on: "node-a", .ready)
            _ = try await harness.waitForPhase("keep", .ready)
            try await harness.client.delete(Torrent.self, name: "keep")
            try await harness.waitForGone("keep")
            #expect(try await harness.replications(of: "keep").isEmpty)
        }
    }

    @Test func deletionWithDeleteWaitsForTheAgentsToReclaim() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            try await harness.addNode("node-b")
            _ = try await harness.client.create(Torrent.sample("drop", replicas: 2, reclaimPolicy: .delete))
            _ = try await harness.waitForReplicas("drop", count: 2)
            try await harness.report("drop", on: "node-a", .ready)
            try await harness.report("drop", on: "node-b", .ready)
            _ = try await harness.waitForPhase("drop", .ready)
            try await harness.client.delete(Torrent.self, name: "drop")
            let reclaiming = try await harness.waitForPhase("drop", .reclaiming)
            #expect(reclaiming.status?.conditions?[type: "Reclaiming"]?.status == .true)
            try await eventually("both replications marked for reclaim") {
                try await harness.replications(of: "drop").filter(\.isReclaiming).count == 2
            }
            try await harness.report("drop", on: "node-a", .reclaimed)
            try await eventually("the reclaimed replication is removed") { try await harness.nodes(of: "drop") == ["node-b"] }
            #expect(try await harness.torrent("drop") != nil, "the finalizer holds while node-b reclaims")
            try await harness.report("drop", on: "node-b", .reclaimed)
            try await harness.waitForGone("drop")
            #expect(try await harness.replications(of: "drop").isEmpty)
        }
    }

    @Test func deletingOneOfTwoTorrentsOfTheSameModelLeavesTheOtherAlone() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            _ = try await harness.client.create(Torrent.sample("first", reclaimPolicy: .delete))
            _ = try await harness.client.create(Torrent.sample("second", reclaimPolicy: .retain))
            _ = try await harness.waitForReplicas("first", count: 1)
            _ = try await harness.waitForReplicas("second", count: 1)
            try await harness.client.delete(Torrent.self, name: "first")
            try await eventually("first's replication is marked for reclaim") {
                try await harness.replications(of: "first").first?.isReclaiming == true
            }
            #expect(try await harness.replications(of: "second").first?.isReclaiming == false)
            try await harness.report("first", on: "node-a", .reclaimed)
            try await harness.waitForGone("first")
            #expect(try await harness.replications(of: "second").count == 1)
        }
    }

    @Test func deletionWorksWhilePendingFailedOrOnlyRegistered() async throws {
        try await ControllerHarness.with { harness in
            _ = try await harness.client.create(Torrent.sample("unplaced", nodeSelector: ["pool": "none"]))
            _ = try await harness.waitForPhase("unplaced", .pending)
            _ = try await harness.client.create(Torrent.sample("missing", repoID: "nobody/nothing"))
            _ = try await harness.waitForPhase("missing", .failed)
            try await harness.addNode("node-a")
            _ = try await harness.client.create(Torrent.sample("registered", preheat: false))
            _ = try await harness.waitForReplicas("registered", count: 1)
            try await harness.report("registered", on: "node-a", .ready)
            let registered = try await harness.waitForPhase("registered", .ready)
            #expect(registered.status?.conditions?[type: "Pending"]?.reason == "Ready")
            for name in ["unplaced", "missing", "registered"] {
                try await harness.client.delete(Torrent.self, name: name)
            }
            for name in ["unplaced", "missing", "registered"] {
                try await harness.waitForGone(name)
            }
        }
    }

    @Test func aTorrentCanBeRecreatedUnderTheSameName() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            let first = try await harness.client.create(Torrent.sample("again"))
            _ = try await harness.waitForReplicas("again", count: 1)
            try await harness.client.delete(Torrent.self, name: "again")
            try await harness.waitForGone("again")
            let second = try await harness.client.create(Torrent.sample("again"))
            #expect(first.metadata.uid != second.metadata.uid)
            try await eventually("a replication owned by the new Torrent") {
                try await harness.replications(of: "again").first?.metadata.ownerReferences?.first?.uid == second.metadata.uid
            }
            try await harness.report("again", on: "node-a", .ready)
            _ = try await harness.waitForPhase("again", .ready)
        }
    }

    @Test func ttlZeroDeletesTheTorrentOnceReady() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            _ = try await harness.client.create(Torrent.sample("brief", ttl: 0))
            _ = try await harness.waitForReplicas("brief", count: 1)
            try await harness.report("brief", on: "node-a", .ready)
            try await harness.waitForGone("brief")
        }
    }

    @Test func ttlOfSomeSecondsDeletesOnlyAfterThem() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            _ = try await harness.client.create(Torrent.sample("timed", ttl: 2))
            _ = try await harness.waitForReplicas("timed", count: 1)
            try await harness.report("timed", on: "node-a", .ready)
            let ready = try await harness.waitForPhase("timed", .ready)
            let readyAt = try #require(ready.status?.conditions?[type: "Ready"]?.lastTransitionTime)
            try await harness.waitForGone("timed")
            // Timestamps have one-second resolution.
            #expect(Date().timeIntervalSince(readyAt) >= 1)
        }
    }

    @Test func deleteWhileReplicatingReleasesTheReplicas() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            _ = try await harness.client.create(Torrent.sample("midway", reclaimPolicy: .delete))
            _ = try await harness.waitForReplicas("midway", count: 1)
            try await harness.report("midway", on: "node-a", .replicating, bytesDone: gib / 2)
            _ = try await harness.waitForPhase("midway", .replicating)
            try await harness.client.delete(Torrent.self, name: "midway")
            try await eventually("the in-flight replication is told to reclaim") {
                try await harness.replications(of: "midway").first?.isReclaiming == true
            }
            try await harness.report("midway", on: "node-a", .reclaimed)
            try await harness.waitForGone("midway")
        }
    }

    @Test func aNodeRemovedMidPullIsReplacedByAnother() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a", freeBytes: 90 * gib)
            try await harness.addNode("node-b", freeBytes: 50 * gib)
            _ = try await harness.client.create(Torrent.sample("moving"))
            _ = try await harness.waitForReplicas("moving", count: 1)
            #expect(try await harness.nodes(of: "moving") == ["node-a"])
            try await harness.report("moving", on: "node-a", .replicating, bytesDone: gib / 4)
            try await harness.removeNode("node-a")
            try await eventually("the replica moves to node-b") { try await harness.nodes(of: "moving") == ["node-b"] }
            try await harness.report("moving", on: "node-b", .ready)
            let ready = try await harness.waitForPhase("moving", .ready)
            #expect(ready.status?.nodes?.map(\.nodeName) == ["node-b"])
        }
    }

    @Test func raisingAndLoweringReplicasFollowsTheSpec() async throws {
        try await ControllerHarness.with { harness in
            for node in ["node-a", "node-b", "node-c"] { try await harness.addNode(node) }
            _ = try await harness.client.create(Torrent.sample("elastic", replicas: 1))
            _ = try await harness.waitForReplicas("elastic", count: 1)
            let firstNode = try #require(try await harness.nodes(of: "elastic").first)
            try await harness.report("elastic", on: firstNode, .ready)
            _ = try await harness.waitForPhase("elastic", .ready)

            _ = try await harness.client.mergePatch(Torrent.self, name: "elastic", patch: ["spec": ["replicas": 3]])
            _ = try await harness.waitForReplicas("elastic", count: 3)
            let raised = try await harness.waitForTorrent("elastic", "back to replicating") { $0.status?.phase == .replicating }
            #expect(raised.status?.readyReplicas == 1)

            _ = try await harness.client.mergePatch(Torrent.self, name: "elastic", patch: ["spec": ["replicas": 1]])
            _ = try await harness.waitForReplicas("elastic", count: 1)
            #expect(try await harness.nodes(of: "elastic") == [firstNode], "the ready replica is the one kept")
            let lowered = try await harness.waitForPhase("elastic", .ready)
            #expect(lowered.status?.observedGeneration == lowered.metadata.generation)
        }
    }

    @Test func loweringReplicasWithDeletePolicyReclaimsTheSurplus() async throws {
        try await ControllerHarness.with { harness in
            for node in ["node-a", "node-b"] { try await harness.addNode(node) }
            _ = try await harness.client.create(Torrent.sample("shrink", replicas: 2, reclaimPolicy: .delete))
            _ = try await harness.waitForReplicas("shrink", count: 2)
            try await harness.report("shrink", on: "node-a", .ready)
            _ = try await harness.client.mergePatch(Torrent.self, name: "shrink", patch: ["spec": ["replicas": 1]])
            try await eventually("node-b's replica is marked for reclaim") {
                try await harness.replications(of: "shrink").first { $0.spec.nodeName == "node-b" }?.isReclaiming == true
            }
            try await harness.report("shrink", on: "node-b", .reclaimed)
            try await eventually("only node-a remains") { try await harness.nodes(of: "shrink") == ["node-a"] }
            _ = try await harness.waitForPhase("shrink", .ready)
        }
    }

    @Test func aFailedReplicaGivesTheTorrentAReason() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            _ = try await harness.client.create(Torrent.sample("broken"))
            _ = try await harness.waitForReplicas("broken", count: 1)
            try await harness.report("broken", on: "node-a", .failed, message: "disk full")
            let failed = try await harness.waitForTorrent("broken", "failure reported") {
                $0.status?.conditions?[type: "Replicating"]?.reason == "ReplicationFailed"
            }
            #expect(failed.status?.conditions?[type: "Replicating"]?.message == "node-a: disk full")
        }
    }

    @Test func anUnknownRepoFailsWithARevisionNotFoundReason() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            _ = try await harness.client.create(Torrent.sample("ghost", repoID: "nobody/nothing"))
            let failed = try await harness.waitForPhase("ghost", .failed)
            #expect(failed.status?.conditions?[type: "Pending"]?.reason == "RevisionNotFound")
            #expect(failed.status?.conditions?[type: "Pending"]?.message.contains("nobody/nothing@main") == true)
            #expect(try await harness.replications(of: "ghost").isEmpty)
        }
    }

    @Test func anUnavailableHubIsRetriedUntilItAnswers() async throws {
        let hub = FlakyResolver(failures: 3)
        try await ControllerHarness.with(resolver: hub) { harness in
            try await harness.addNode("node-a")
            _ = try await harness.client.create(Torrent.sample("patient"))
            _ = try await harness.waitForReplicas("patient", count: 1)
            let torrent = try await harness.waitForTorrent("patient", "resolved after the outage") { $0.status?.repo != nil }
            #expect(torrent.status?.phase != .failed)
            #expect(hub.calls.value >= 4, "three failures, then an answer")
        }
    }

    @Test func theControllerRecoversFromWatchDisconnectsAndExpiredVersions() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            _ = try await harness.client.create(Torrent.sample("steady"))
            _ = try await harness.waitForReplicas("steady", count: 1)
            let lists = harness.env.store.count("GET manta.io/torrents")
            harness.env.store.setWatchesAvailable(false)
            harness.env.store.dropWatches()
            _ = try await harness.client.create(Torrent.sample("during-outage"))
            harness.env.store.compact()
            harness.env.store.setWatchesAvailable(true)
            _ = try await harness.waitForReplicas("during-outage", count: 1)
            #expect(harness.env.store.count("GET manta.io/torrents") > lists, "the expired watch led to a new list")
            try await harness.report("steady", on: "node-a", .ready)
            _ = try await harness.waitForPhase("steady", .ready)
        }
    }

    @Test func statusWritesSurviveConflicts() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            _ = try await harness.client.create(Torrent.sample("contested"))
            harness.env.store.interfere(with: "contested", times: 6)
            _ = try await harness.waitForReplicas("contested", count: 1)
            try await harness.report("contested", on: "node-a", .ready)
            let ready = try await harness.waitForPhase("contested", .ready)
            #expect(ready.metadata.annotations?["test/interference"] != nil, "the conflicting writes happened")
        }
    }
}
