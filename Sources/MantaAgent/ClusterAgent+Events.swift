import Foundation
import MantaHub
import MantaKube
import MantaStore

/// The agent posts Events on the Torrents whose Replications it works on, for `kubectl describe torrent`:
/// pulls started and done, lazy registrations, reclaims, and failures with their reason.
extension ClusterAgent {
    var recorder: EventRecorder {
        EventRecorder(client: binding.client, component: "manta-agent", host: nodeName, logger: logger)
    }

    /// Posts an Event on the Replication's Torrent (its owner), naming this node.
    func recordEvent(for replication: Replication, _ type: EventRecorder.EventType, reason: String, message: String) async {
        guard let owner = replication.metadata.ownerReferences?.first(where: { $0.kind == Torrent.resourceType.kind }) else { return }
        await recorder.record(
            involving: Event.ObjectReference(apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, uid: owner.uid),
            type, reason: reason, message: "node \(nodeName): \(message)")
    }

    /// What a finished pull says: how long it took and where the bytes came from.
    static func pullDoneMessage(_ summary: PullSummary, source: Replication.Source, took duration: Duration) -> String {
        if summary.upToDate { return "\(source.repoID)@\(source.revision) was already here complete" }
        let seconds = duration.inSeconds
        let fromHub = summary.bytesDownloaded - min(summary.bytesDownloaded, summary.bytesFromPeers)
        return "pulled \(source.repoID)@\(source.revision) in \(String(format: "%.1f", seconds)) s: "
            + "\(summary.bytesFromPeers) bytes from peers, \(fromHub) bytes from the hub, \(summary.chunksWritten) new chunks"
    }
}
