import Foundation
import MantaKube
import MantaTestSupport
import Testing

/// Each semantic of the Kubernetes API that the client and controller rely on, against the test API server.
@Suite(.timeLimit(.minutes(3))) struct APIServerSemanticsTests {
    @Test func resourceVersionsIncreaseWithEveryWrite() async throws {
        try await KubeTestEnvironment.with { env in
            let created = try await env.client.create(Torrent.sample("a"))
            var changed = created
            changed.metadata.labels = ["x": "1"]
            let updated = try await env.client.update(changed)
            let second = try await env.client.create(Torrent.sample("b"))
            let versions = [created, updated, second].compactMap { $0.metadata.resourceVersion.flatMap { Int($0) } }
            #expect(versions.count == 3)
            #expect(versions == versions.sorted() && Set(versions).count == 3)
        }
    }

    @Test func watchFromAListVersionSeesOnlyLaterChanges() async throws {
        try await KubeTestEnvironment.with { env in
            _ = try await env.client.create(Torrent.sample("before"))
            let list = try await env.client.list(Torrent.self)
            #expect(list.items.map(\.name) == ["before"])
            _ = try await env.client.create(Torrent.sample("after"))
            let events = try await env.client.watch(Torrent.self, resourceVersion: list.metadata.resourceVersion)
            var iterator = events.makeAsyncIterator()
            guard case .added(let torrent)? = try await iterator.next() else { throw TestFailure("expected an ADDED event") }
            #expect(torrent.name == "after")
        }
    }

    @Test func watchEventsSplitAcrossNetworkChunksDecodeWhole() async throws {
        try await KubeTestEnvironment.with(watchFragmentBytes: 7) { env in
            let events = try await env.client.watch(Torrent.self, resourceVersion: String(env.store.currentVersion()))
            var iterator = events.makeAsyncIterator()
            for name in ["first", "second"] { _ = try await env.client.create(Torrent.sample(name)) }
            try await env.client.delete(Torrent.self, name: "first")
            var seen: [String] = []
            while seen.count < 3 {
                switch try await iterator.next() {
                case .added(let torrent)?: seen.append("added \(torrent.name)")
                case .deleted(let torrent)?: seen.append("deleted \(torrent.name)")
                case .bookmark?: continue
                case let other: throw TestFailure("unexpected \(String(describing: other))")
                }
            }
            #expect(seen == ["added first", "added second", "deleted first"])
        }
    }

    @Test func watchFromACompactedVersionFailsWithGone() async throws {
        try await KubeTestEnvironment.with { env in
            let created = try await env.client.create(Torrent.sample("a"))
            _ = try await env.client.create(Torrent.sample("b"))
            env.store.compact()
            let events = try await env.client.watch(Torrent.self, resourceVersion: created.metadata.resourceVersion)
            do {
                for try await event in events { Issue.record("expected 410 Gone, got \(event)") }
                Issue.record("the watch ended without an error")
            } catch let error as KubeError {
                #expect(error.isGone)
            }
        }
    }

    @Test func watchesReceiveBookmarksAtTheCurrentVersion() async throws {
        try await KubeTestEnvironment.with(bookmarkInterval: .milliseconds(50)) { env in
            let created = try await env.client.create(Torrent.sample("a"))
            let events = try await env.client.watch(Torrent.self, resourceVersion: created.metadata.resourceVersion)
            for try await event in events {
                if case .bookmark(let version) = event {
                    #expect(version == created.metadata.resourceVersion)
                    return
                }
                throw TestFailure("expected only a bookmark, got \(event)")
            }
        }
    }

    @Test func statusIsWrittenOnlyThroughTheStatusSubresource() async throws {
        try await KubeTestEnvironment.with { env in
            var torrent = try await env.client.create(Torrent.sample("a"))
            torrent.status = Torrent.Status()
            torrent.status?.phase = .ready
            torrent.spec.replicas = 3
            let viaMain = try await env.client.update(torrent)
            #expect(viaMain.status?.phase == nil)
            #expect(viaMain.spec.replicas == 3)

            var statusWrite = viaMain
            statusWrite.status = Torrent.Status()
            statusWrite.status?.phase = .replicating
            statusWrite.spec.replicas = 5
            let viaStatus = try await env.client.updateStatus(statusWrite)
            #expect(viaStatus.status?.phase == .replicating)
            #expect(viaStatus.spec.replicas == 3)
        }
    }

    @Test func deletingAnObjectWithFinalizersOnlyMarksIt() async throws {
        try await KubeTestEnvironment.with { env in
            var torrent = Torrent.sample("a")
            torrent.metadata.finalizers = ["test/hold"]
            _ = try await env.client.create(torrent)
            try await env.client.delete(Torrent.self, name: "a")
            let marked = try await env.client.get(Torrent.self, name: "a")
            #expect(marked.metadata.deletionTimestamp != nil)
            var released = marked
            released.metadata.finalizers = []
            _ = try await env.client.update(released)
            await #expect(throws: KubeError.self) { try await env.client.get(Torrent.self, name: "a") }
        }
    }

    @Test func generationCountsSpecChangesOnly() async throws {
        try await KubeTestEnvironment.with { env in
            var torrent = try await env.client.create(Torrent.sample("a"))
            #expect(torrent.metadata.generation == 1)
            torrent.metadata.labels = ["only": "metadata"]
            torrent = try await env.client.update(torrent)
            #expect(torrent.metadata.generation == 1)
            torrent.status = Torrent.Status()
            torrent.status?.observedGeneration = 1
            torrent = try await env.client.updateStatus(torrent)
            #expect(torrent.metadata.generation == 1)
            torrent.spec.replicas = 2
            torrent = try await env.client.update(torrent)
            #expect(torrent.metadata.generation == 2)
            #expect(torrent.status?.observedGeneration == 1)
        }
    }

    @Test func updateWithAStaleResourceVersionConflicts() async throws {
        try await KubeTestEnvironment.with { env in
            let original = try await env.client.create(Torrent.sample("a"))
            var first = original
            first.spec.replicas = 2
            _ = try await env.client.update(first)
            var stale = original
            stale.spec.replicas = 3
            do {
                _ = try await env.client.update(stale)
                Issue.record("a stale update succeeded")
            } catch let error as KubeError {
                #expect(error.isConflict)
                #expect(error.description.contains("the object has been modified"))
            }
        }
    }

    @Test func createOfAnExistingNameFailsWithAlreadyExists() async throws {
        try await KubeTestEnvironment.with { env in
            _ = try await env.client.create(Torrent.sample("a"))
            do {
                _ = try await env.client.create(Torrent.sample("a"))
                Issue.record("a duplicate create succeeded")
            } catch let error as KubeError {
                #expect(error.isAlreadyExists)
            }
        }
    }

    @Test func mergePatchMergesObjectsAndNullRemoves() async throws {
        try await KubeTestEnvironment.with { env in
            _ = try await env.client.create(Torrent.sample("a", nodeSelector: ["zone": "a", "disk": "ssd"]))
            let patched = try await env.client.mergePatch(
                Torrent.self, name: "a", patch: ["spec": ["replicas": 4, "nodeSelector": ["zone": nil, "gpu": "h100"]]])
            #expect(patched.spec.replicas == 4)
            #expect(patched.spec.nodeSelector == ["disk": "ssd", "gpu": "h100"])
            #expect(patched.spec.hub?.repoID == "Qwen/Qwen3-0.6B")
        }
    }

    @Test func jsonPatchAppliesOperationsInOrderAndTestGuards() async throws {
        try await KubeTestEnvironment.with { env in
            _ = try await env.client.create(Torrent.sample("a"))
            let patched = try await env.client.jsonPatch(
                Torrent.self, name: "a",
                operations: [.test("/spec/replicas", 1), .replace("/spec/replicas", 2), .add("/metadata/labels", ["team": "ml"])])
            #expect(patched.spec.replicas == 2)
            #expect(patched.metadata.labels == ["team": "ml"])
            await #expect(throws: KubeError.self) {
                try await env.client.jsonPatch(Torrent.self, name: "a", operations: [.test("/spec/replicas", 7), .replace("/spec/replicas", 9)])
            }
            #expect(try await env.client.get(Torrent.self, name: "a").spec.replicas == 2)
        }
    }

    @Test func labelSelectorsFilterListsAndWatches() async throws {
        try await KubeTestEnvironment.with { env in
            _ = try await env.client.create(Torrent(name: "a", spec: Torrent.sample("a").spec, labels: ["team": "ml"]))
            _ = try await env.client.create(Torrent(name: "b", spec: Torrent.sample("b").spec, labels: ["team": "web"]))
            _ = try await env.client.create(Torrent.sample("c"))
            #expect(try await env.client.list(Torrent.self, labelSelector: "team=ml").items.map(\.name) == ["a"])
            #expect(try await env.client.list(Torrent.self, labelSelector: "team!=ml").items.map(\.name) == ["b", "c"])
            #expect(try await env.client.list(Torrent.self, labelSelector: "team").items.map(\.name) == ["a", "b"])
            #expect(try await env.client.list(Torrent.self, labelSelector: "!team").items.map(\.name) == ["c"])
        }
    }

    @Test func fieldSelectorsMatchByName() async throws {
        try await KubeTestEnvironment.with { env in
            _ = try await env.client.create(Torrent.sample("a"))
            _ = try await env.client.create(Torrent.sample("b"))
            #expect(try await env.client.list(Torrent.self, fieldSelector: "metadata.name=b").items.map(\.name) == ["b"])
        }
    }

    @Test func eventsAboutClusterScopedObjectsBelongInTheDefaultNamespace() async throws {
        try await KubeTestEnvironment.with { env in
            var event = Event(
                metadata: ObjectMeta(name: "t.1", namespace: "manta-system"),
                involvedObject: .init(apiVersion: "manta.io/v1alpha1", kind: "Torrent", name: "t"), reason: "Test", message: "m")
            do {
                _ = try await env.client.create(event)
                Issue.record("an Event in manta-system about a cluster-scoped object was accepted")
            } catch let error as KubeError {
                #expect(error.description.contains("does not match event.namespace"))
            }
            event.metadata.namespace = "default"
            _ = try await env.client.create(event)
        }
    }

    @Test func torrentDefaultsAreFilledIn() async throws {
        try await KubeTestEnvironment.with { env in
            let torrent = try await env.client.create(Torrent.sample("a"))
            #expect(torrent.spec.hub?.name == "Huggingface")
            #expect(torrent.spec.hub?.revision == "main")
            #expect(torrent.spec.preheat == true)
            #expect(torrent.spec.replicas == 1)
            #expect(torrent.spec.reclaimPolicy == .retain)
        }
    }

    @Test(arguments: [
        (Torrent.sample("no-repo", repoID: ""), "spec.hub.repoID: Required value"),
        (Torrent(name: "bad-hub", spec: .init(hub: .init(name: "ModelScope", repoID: "x/y"))), "spec.hub.name: Unsupported value: \"ModelScope\""),
        (Torrent.sample("zero", replicas: 0), "spec.replicas: Invalid value: 0"),
        (Torrent(name: "no-hub", spec: .init(hub: nil)), "spec.hub: Required value"),
    ])
    func invalidTorrentsAreRejectedWithAClearMessage(torrent: Torrent, message: String) async throws {
        try await KubeTestEnvironment.with { env in
            do {
                _ = try await env.client.create(torrent)
                Issue.record("invalid Torrent \(torrent.name) was accepted")
            } catch let error as KubeError {
                #expect(error.isInvalid)
                #expect(error.description.contains("Torrent.manta.io \"\(torrent.name)\" is invalid"))
                #expect(error.description.contains(message))
            }
        }
    }

    @Test func aBadReclaimPolicyIsRejected() async throws {
        try await KubeTestEnvironment.with { env in
            _ = try await env.client.create(Torrent.sample("a"))
            do {
                _ = try await env.client.mergePatch(Torrent.self, name: "a", patch: ["spec": ["reclaimPolicy": "Keep"]])
                Issue.record("reclaimPolicy Keep was accepted")
            } catch let error as KubeError {
                #expect(error.isInvalid)
                #expect(error.description.contains("spec.reclaimPolicy: Unsupported value: \"Keep\""))
            }
        }
    }

    @Test func preheatCannotGoFromTrueToFalse() async throws {
        try await KubeTestEnvironment.with { env in
            _ = try await env.client.create(Torrent.sample("lazy", preheat: false))
            let warmed = try await env.client.mergePatch(Torrent.self, name: "lazy", patch: ["spec": ["preheat": true]])
            #expect(warmed.spec.preheat == true)
            do {
                _ = try await env.client.mergePatch(Torrent.self, name: "lazy", patch: ["spec": ["preheat": false]])
                Issue.record("preheat went from true to false")
            } catch let error as KubeError {
                #expect(error.description.contains("preheat cannot change from true to false"))
            }
        }
    }
}
