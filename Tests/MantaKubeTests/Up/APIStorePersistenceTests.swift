import Foundation
import MantaKube
import MantaKubeAPI
import MantaTestSupport
import ServiceLifecycle
import Testing

/// The embedded API's persistence: objects, statuses and the resource version survive a restart; a damaged
/// snapshot is refused with what to do; Events are kept to a bound.
@Suite(.timeLimit(.minutes(3)), .threadsOfItsOwn) struct APIStorePersistenceTests {
    /// Serves a store persisted in `folder` on a unix socket there, runs `body` with a client, then shuts down.
    static func serving(_ folder: String, _ body: @Sendable (KubeClient) async throws -> Void) async throws {
        let store = try APIStore(persistingIn: folder + "/api", logger: quietLogger)
        let socket = folder + "/api.sock"
        let service = EmbeddedAPIService(server: EmbeddedAPIServer(store: store), listeners: [.unixSocket(socket)], logger: quietLogger)
        let group = ServiceGroup(configuration: .init(services: [service], gracefulShutdownSignals: [], logger: quietLogger))
        let task = Task { try await group.run() }
        let client = try KubeClient(
            config: KubeConfig(server: "http+unix://" + (socket.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")),
            logger: quietLogger)
        do {
            try await eventually("the API answers on its socket") { (try? await client.list(Torrent.self)) != nil }
            try await body(client)
        } catch {
            try? await client.shutdown()
            await group.triggerGracefulShutdown()
            _ = await task.result
            throw error
        }
        try await client.shutdown()
        await group.triggerGracefulShutdown()
        try await task.value
    }

    @Test func objectsStatusesAndTheResourceVersionSurviveARestart() async throws {
        let scratch = try TemporaryDirectory()
        let saved = Locked<Torrent?>(nil)
        try await Self.serving(scratch.path) { client in
            var torrent = try await client.create(Torrent(name: "kept", spec: .init(hub: .init(repoID: "acme/model"), reclaimPolicy: .delete)))
            var status = Torrent.Status()
            status.phase = .ready
            status.readyReplicas = 1
            torrent.status = status
            let updated = try await client.updateStatus(torrent)
            saved.mutate { $0 = updated }
        }
        let before = try #require(saved.value)
        try await Self.serving(scratch.path) { client in
            let after = try await client.get(Torrent.self, name: "kept")
            #expect(after.metadata.uid == before.metadata.uid && after.spec == before.spec)
            #expect(after.status?.phase == .ready && after.status?.readyReplicas == 1)
            #expect(after.metadata.resourceVersion == before.metadata.resourceVersion)
            let next = try await client.create(Torrent(name: "next", spec: .init(hub: .init(repoID: "acme/model"))))
            #expect(Int(next.metadata.resourceVersion ?? "") ?? 0 > Int(before.metadata.resourceVersion ?? "") ?? .max, "versions continue upward")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.appending("api/objects.json.tmp")), "no half-written snapshot is left")
    }

    @Test func aDamagedSnapshotIsRefusedWithWhatToDo() throws {
        let scratch = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: scratch.appending("api"), withIntermediateDirectories: true)
        try Data("{\"resourceVersion\": 12, \"objects\": {".utf8).write(to: URL(fileURLWithPath: scratch.appending("api/objects.json")))
        #expect {
            _ = try APIStore(persistingIn: scratch.appending("api"), logger: quietLogger)
        } throws: { error in
            "\(error)".contains("objects.json") && "\(error)".contains("move it away")
        }
    }

    @Test func eventsAreKeptToABoundOldestFirst() async throws {
        let scratch = try TemporaryDirectory()
        try await Self.serving(scratch.path) { client in
            let recorder = EventRecorder(client: client, component: "test", host: "here", logger: quietLogger)
            let torrent = Torrent(name: "noisy", spec: .init(hub: .init(repoID: "acme/model")))
            for index in 0..<(APIStore.eventLimit + 5) {
                await recorder.record(torrent, .normal, reason: "Step\(index)", message: "step \(index)")
            }
            let events = try await client.list(Event.self).items
            #expect(events.count == APIStore.eventLimit)
            #expect(!events.contains { $0.reason == "Step0" } && events.contains { $0.reason == "Step\(APIStore.eventLimit + 4)" })
        }
    }
}
