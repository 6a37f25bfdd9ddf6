import ArgumentParser
import Foundation
import MantaCLISupport
import MantaKube

/// `manta describe torrent NAME`: a Torrent's spec, status and conditions, each node's progress, and its Events.
struct DescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: NetworkCommand.describe.rawValue, abstract: NetworkCommand.describe.abstract)

    @Argument(help: "torrent.")
    var resource: String

    @Argument(help: "The Torrent.")
    var name: String

    @OptionGroup var target: UpServerOptions

    func validate() throws {
        try TorrentResourceName.check(resource, command: "describe")
    }

    func run() async throws {
        let client = try target.client()
        defer { Task { try? await client.shutdown() } }
        guard let torrent = try await client.getIfPresent(Torrent.self, name: name) else {
            throw ValidationError("torrents.manta.io \"\(name)\" not found")
        }
        let events = try await client.list(Event.self, fieldSelector: "involvedObject.name=\(name)").items
            .filter { $0.involvedObject.kind == Torrent.resourceType.kind }
            .sorted { ($0.lastTimestamp ?? .distantPast) < ($1.lastTimestamp ?? .distantPast) }
        print(Self.describe(torrent, events: events))
    }

    static func describe(_ torrent: Torrent, events: [Event], now: Date = Date()) -> String {
        let spec = torrent.spec
        let status = torrent.status
        let file: String = spec.hub?.filename.map { " (file \($0))" } ?? ""
        let commit: String = status?.repo.map { " (commit \($0.commit))" } ?? ""
        var lines: [String] = [
            "Name:            \(torrent.name)",
            "Repo:            \(spec.hub?.repoID ?? "")\(file)",
            "Revision:        \(spec.hub?.revision ?? "main")\(commit)",
            "Preheat:         \(spec.effectivePreheat)",
            "Replicas:        \(status?.readyReplicas ?? 0)/\(spec.effectiveReplicas) ready",
            "Reclaim Policy:  \(spec.effectiveReclaimPolicy.rawValue)",
        ]
        if let ttl = spec.ttlSecondsAfterReady { lines.append("TTL After Ready: \(ttl)s") }
        if let selector = spec.nodeSelector, !selector.isEmpty {
            lines.append("Node Selector:   " + selector.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))
        }
        if torrent.metadata.isDeleting { lines.append("Deleting:        since \(TorrentTable.age(torrent.metadata.deletionTimestamp, now: now))") }
        lines.append("Phase:           \(status?.phase?.rawValue ?? "Pending")")
        lines.append("Progress:        \(TorrentTable.progress(torrent))")
        lines.append("Conditions:")
        lines.append(
            table(["TYPE", "STATUS", "REASON", "MESSAGE"], (status?.conditions ?? []).map { [$0.type, $0.status.rawValue, $0.reason, $0.message] }))
        lines.append("Nodes:")
        lines.append(table(["NODE", "PHASE", "BYTES", "MESSAGE"], (status?.nodes ?? []).map(nodeRow)))
        lines.append("Events:")
        lines.append(table(["TYPE", "REASON", "AGE", "FROM", "MESSAGE"], events.map { eventRow($0, now: now) }))
        return lines.joined(separator: "\n")
    }

    /// A table indented under its heading, or `<none>`.
    private static func table(_ header: [String], _ rows: [[String]]) -> String {
        guard !rows.isEmpty else { return "  <none>" }
        return TorrentTable.format(([header] + rows).map { row in ["  " + row[0]] + row.dropFirst() })
    }

    private static func nodeRow(_ node: Torrent.NodeProgress) -> [String] {
        let done = ByteCount.format(UInt64(max(node.bytesDone, 0)))
        let total = ByteCount.format(UInt64(max(node.bytesTotal, 0)))
        return [node.nodeName, node.phase.rawValue, "\(done)/\(total)", node.message ?? ""]
    }

    private static func eventRow(_ event: Event, now: Date) -> [String] {
        let age = TorrentTable.age(event.lastTimestamp ?? event.firstTimestamp, now: now)
        return [event.type ?? "Normal", event.reason ?? "", age, event.reportingComponent ?? event.source?.component ?? "", event.message ?? ""]
    }
}
