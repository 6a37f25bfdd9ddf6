import Foundation
import MantaKube
import MantaKubeAPI

/// Torrents as `manta get torrents` prints them: one aligned row each, with the bytes the nodes hold so far.
enum TorrentTable {
    static func header(wide: Bool) -> [String] {
        ["NAME", "PHASE", "READY", "PROGRESS", "REPO", "AGE"] + (wide ? ["REVISION", "COMMIT", "RECLAIM", "NODES"] : [])
    }

    static func row(_ torrent: Torrent, wide: Bool, now: Date = Date()) -> [String] {
        let status = torrent.status
        let ready = "\(status?.readyReplicas ?? 0)/\(torrent.spec.effectiveReplicas)"
        var row = [
            torrent.name, status?.phase?.rawValue ?? "Pending", ready, progress(torrent), torrent.spec.hub?.repoID ?? "",
            age(torrent.metadata.creationTimestamp, now: now),
        ]
        if wide {
            let nodes = (status?.nodes ?? []).map { "\($0.nodeName)=\($0.phase.rawValue)" }.joined(separator: ",")
            row += [
                torrent.spec.hub?.revision ?? "main", String((status?.repo?.commit ?? "").prefix(12)),
                torrent.spec.effectiveReclaimPolicy.rawValue, nodes.isEmpty ? "<none>" : nodes,
            ]
        }
        return row
    }

    /// The bytes on all of the Torrent's nodes against what they will hold, as a percentage.
    static func progress(_ torrent: Torrent) -> String {
        let nodes = torrent.status?.nodes ?? []
        let total = nodes.reduce(Int64(0)) { $0 + max($1.bytesTotal, 0) }
        guard total > 0 else { return "-" }
        let done = nodes.reduce(Int64(0)) { $0 + min(max($1.bytesDone, 0), max($1.bytesTotal, 0)) }
        return "\(Int(Double(done) / Double(total) * 100))%"
    }

    static func age(_ created: Date?, now: Date) -> String {
        ObjectAge.text(since: created, now: now)
    }

    /// Columns padded to their widest cell, three spaces apart, as kubectl prints them.
    static func format(_ rows: [[String]]) -> String {
        guard let columns = rows.map(\.count).max() else { return "" }
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index] + 3, withPad: " ", startingAt: 0)
            }.joined()
        }.joined(separator: "\n")
    }
}
