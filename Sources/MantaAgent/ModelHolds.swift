import MantaStore
import NIOPosix

/// Models held by something outside the agent's own work: the CSI node plugin publishes a model folder into a
/// pod's volume and holds the model until it unpublishes the volume, so the quota never evicts a model a pod uses.
/// Each hold is a lasting store pin with holder `volume:<volume id>`: it survives an agent restart (the pod keeps its
/// volume), and `manta ls`, `manta gc` and the refusal of a pull that cannot fit name it. Safe from any task.
public struct ModelHolds: Sendable {
    public static let holderPrefix = "volume:"

    let store: Store

    public static func holder(ofVolume volumeID: String) -> String { holderPrefix + volumeID }

    /// Holds the model `reference` names (complete, or registered lazily) for the volume.
    public func hold(_ reference: RepoReference, volume volumeID: String) async throws {
        let store = store
        try await NIOThreadPool.singleton.runIfActive {
            let registered = try store.registrations().first { $0.reference == reference }?.digest
            guard let digest = try store.resolve(reference) ?? registered else { throw StoreError.unknownReference(reference.description) }
            try store.pin(digest, holder: Self.holder(ofVolume: volumeID))
        }
    }

    /// Releases whatever the volume holds (nothing, when it holds nothing).
    public func release(volume volumeID: String) async throws {
        let store = store
        let holder = Self.holder(ofVolume: volumeID)
        try await NIOThreadPool.singleton.runIfActive {
            for pin in try store.pins() where pin.holder == holder { try store.unpin(pin.manifest, holder: holder) }
        }
    }

    /// The volumes holding models now, with the manifests (or registrations) each holds.
    public func volumes() async throws -> [String: [Digest]] {
        let store = store
        return try await NIOThreadPool.singleton.runIfActive {
            Dictionary(
                grouping: try store.pins().filter { $0.holder.hasPrefix(Self.holderPrefix) },
                by: { String($0.holder.dropFirst(Self.holderPrefix.count)) }
            )
            .mapValues { $0.map { $0.manifest } }
        }
    }
}
