import MantaHub
import MantaStore
import NIOPosix

extension AgentService {
    /// Refuses `snapshot` when it cannot fit under the store's quota even with every evictable model gone, and
    /// makes room for it otherwise; a revision the store holds complete already needs no room.
    func admit(_ reference: HubModelReference, snapshot: HubSnapshot) async throws {
        guard quota.quotaBytes != nil else { return }
        let store = store
        let present = try await NIOThreadPool.singleton.runIfActive {
            guard let storeReference = try? ModelPuller.storeReference(for: reference), let digest = try store.resolve(storeReference),
                let manifest = try? store.manifest(digest), manifest.source.commit == snapshot.commit
            else { return false }
            return manifest.chunkIDs.allSatisfy(store.contains)
        }
        guard !present else { return }
        try await quota.admit("\(reference)", neededBytes: UInt64(clamping: snapshot.totalSize))
    }

    /// Collects garbage as `manta gc` does, with the agent's quota, while the agent runs: alone, no pull running.
    /// Models whose files were all closed are let go first, without the mount's unpin delay.
    public func collectGarbage(dryRun: Bool) async throws -> Store.GCPlan {
        if !dryRun, let mount = mount?.mount { try await NIOThreadPool.singleton.runIfActive { mount.releaseClosedModels() } }
        return try await quota.collect(dryRun: dryRun)
    }
}
