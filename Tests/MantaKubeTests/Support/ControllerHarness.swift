import Foundation
import Logging
import MantaKube
import MantaTestSupport
import MantaTransfer
import Testing

/// The controller running against the test API server, with helpers that play the agents' part: they write
/// NodeTrackers and Replication status through the API, as the agents will.
struct ControllerHarness: Sendable {
    static let gib: Int64 = 1 << 30
    let env: KubeTestEnvironment
    let controller: TorrentController

    var client: KubeClient { env.client }

    static func with(
        resolver: some RevisionResolver = TableResolver(), scheduler: Scheduler = .standard(),
        _ body: @Sendable (ControllerHarness) async throws -> Void
    ) async throws {
        try await KubeTestEnvironment.with(bookmarkInterval: .milliseconds(100)) { env in
            let configuration = ControllerConfiguration(
                scheduler: scheduler, watchBackoff: Backoff(initial: .milliseconds(10), maximum: .milliseconds(200)),
                retryBaseDelay: .milliseconds(10), retryMaxDelay: .milliseconds(500), reclaimRecheck: .seconds(1))
            let controller = TorrentController(client: env.client, resolver: resolver, configuration: configuration, logger: quietLogger)
            let task = Task { try await controller.run() }
            let harness = ControllerHarness(env: env, controller: controller)
            do {
                try await eventually("controller caches sync") { controller.hasSynced }
                try await body(harness)
            } catch {
                task.cancel()
                _ = await task.result
                throw error
            }
            task.cancel()
            _ = await task.result
        }
    }

    // MARK: Agents' side

    func addNode(
        _ name: String, labels: [String: String] = [:], freeBytes: Int64 = 100 * gib, capacityBytes: Int64 = 200 * gib,
        models: [NodeTracker.CachedModel] = []
    ) async throws {
        _ = try await client.create(Node(name: name, labels: labels))
        try await NodeAgentBinding(client: client, nodeName: name).publish(
            NodeTracker.Status(
                capacityBytes: capacityBytes, freeBytes: freeBytes, usedBytes: capacityBytes - freeBytes, address: "\(name):8470", models: models))
    }

    func removeNode(_ name: String) async throws {
        try await client.delete(NodeTracker.self, name: name)
        try await client.delete(Node.self, name: name)
    }

    /// Writes a Replication's status as the node's agent would.
    func report(_ torrent: String, on node: String, _ phase: Replication.Phase, bytesDone: Int64 = 0, message: String? = nil) async throws {
        let name = Replication.name(torrent: torrent, node: node)
        let total = try await client.get(Replication.self, name: name).spec.source.totalBytes
        try await NodeAgentBinding(client: client, nodeName: node).report(
            name,
            Replication.Status(
                phase: phase, bytesDone: phase == .ready ? total : bytesDone, bytesTotal: total,
                manifestDigest: phase == .ready ? "sha256:" + String(repeating: "0f", count: 32) : nil, message: message))
    }

    // MARK: Observing

    func torrent(_ name: String) async throws -> Torrent? {
        do {
            return try await client.get(Torrent.self, name: name)
        } catch let error as KubeError where error.isNotFound {
            return nil
        }
    }

    func replications(of torrent: String) async throws -> [Replication] {
        try await client.list(Replication.self, labelSelector: "\(Torrent.nameLabel)=\(torrent)").items
    }

    func nodes(of torrent: String) async throws -> [String] {
        try await replications(of: torrent).map(\.spec.nodeName).sorted()
    }

    func waitForTorrent(
        _ name: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation, _ condition: @escaping (Torrent) -> Bool
    ) async throws -> Torrent {
        var last: Torrent?
        try await eventually("\(name): \(what) (last status: \(String(describing: last?.status)))", sourceLocation: sourceLocation) {
            last = try await torrent(name)
            return last.map(condition) ?? false
        }
        guard let last else { throw TestFailure("\(name) vanished") }
        return last
    }

    func waitForPhase(_ name: String, _ phase: Torrent.Phase, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Torrent {
        try await waitForTorrent(name, "phase \(phase.rawValue)", sourceLocation: sourceLocation) { $0.status?.phase == phase }
    }

    func waitForReplicas(_ torrent: String, count: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [Replication] {
        var last: [Replication] = []
        try await eventually("\(torrent) has \(count) replications (has \(last.map(\.spec.nodeName)))", sourceLocation: sourceLocation) {
            last = try await replications(of: torrent).filter { !$0.isReclaiming }
            return last.count == count
        }
        return last
    }

    func waitForGone(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await eventually("\(name) is deleted", sourceLocation: sourceLocation) { try await torrent(name) == nil }
    }
}
