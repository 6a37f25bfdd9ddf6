#if canImport(Glibc)
import Glibc
#endif

extension Store {
    public struct GCPlan: Sendable, Codable {
        /// Manifests that no reference names and no pin holds (with those of evicted models).
        public var manifests: [Digest] = []
        /// Chunks to delete, in the order they go: unused first, then those of evicted models.
        public var chunks: [ChunkID] = []
        /// Models evicted to meet the quota, least recently used first.
        public var evicted: [EvictedModel] = []
        public var freedBytes: UInt64 = 0
        public var storedBytesBefore: UInt64 = 0
        /// Set when the quota could not be met because everything left is held (pinned, open, published).
        public var quotaUnmet = false
    }

    /// A model that eviction removes: its reference (or registration, for a model added lazily) goes, and with
    /// it the chunks no kept model uses.
    public struct EvictedModel: Sendable, Hashable, Codable {
        public var reference: RepoReference
        /// A model registered from hub metadata and not yet complete.
        public var lazy: Bool
        /// When a chunk of it was last read or written (microseconds since 1970), 0 when none is present.
        public var lastUse: Int64
        /// Bytes its eviction frees on disk (chunks that kept models share are not counted).
        public var freedBytes: UInt64
    }

    /// Frees garbage (manifests nothing names; chunks no manifest uses), then, while the chunks and
    /// `reservedBytes` (room for a pull about to start) take more than the high watermark of the quota, evicts
    /// the least recently used models that nothing holds, down to the low watermark. A held model (a pin of any
    /// holder: import, user, Replication, open file, CSI volume) and every chunk it uses stay. With `dryRun`
    /// nothing is deleted.
    public func collectGarbage(dryRun: Bool, quotaBytes: UInt64? = nil, reserving reservedBytes: UInt64 = 0) throws -> GCPlan {
        try exclusively {
            let plan = try planCollection(quotaBytes: quotaBytes ?? configuration.quotaBytes, reserving: reservedBytes)
            guard !dryRun else { return plan }
            for model in plan.evicted {
                if model.lazy { try removeRegistration(model.reference) } else { try removeReference(model.reference) }
            }
            for digest in plan.manifests {
                unlink(manifestPath(digest))
                try database.forgetManifest(digest)
            }
            try deleteChunks(plan.chunks)
            return plan
        }
    }

    private func planCollection(quotaBytes: UInt64?, reserving reservedBytes: UInt64) throws -> GCPlan {
        var plan = GCPlan()
        let holdings = try holdings()
        var users = holdings.chunkUsers
        let manifests = try database.manifestDigests()
        let kept = Set(holdings.models.filter { !$0.lazy }.map(\.digest)).union(holdings.pinnedManifests)
        plan.manifests = manifests.filter { !kept.contains($0) }.sorted()

        plan.storedBytesBefore = holdings.storedBytes
        var remaining = plan.storedBytesBefore
        for record in holdings.records where users[record.id, default: 0] == 0 {
            plan.chunks.append(record.id)
            remaining -= record.storedSize
        }
        guard let quotaBytes, Double(remaining + reservedBytes) > Double(quotaBytes) * configuration.highWatermark else {
            plan.freedBytes = plan.storedBytesBefore - remaining
            return plan
        }
        let target = Double(quotaBytes) * configuration.lowWatermark
        var namedAfter = Dictionary(holdings.models.filter { !$0.lazy }.map { ($0.digest, 1) }, uniquingKeysWith: +)
        for model in holdings.evictionOrder {
            guard Double(remaining + reservedBytes) > target else { break }
            var freed: UInt64 = 0
            for id in model.chunks {
                users[id, default: 1] -= 1
                guard users[id] == 0, let stored = holdings.storedSizes[id] else { continue }
                plan.chunks.append(id)
                freed += stored
            }
            remaining -= freed
            plan.evicted.append(EvictedModel(reference: model.reference, lazy: model.lazy, lastUse: model.lastUse, freedBytes: freed))
            guard !model.lazy else { continue }
            namedAfter[model.digest, default: 1] -= 1
            if namedAfter[model.digest] == 0 { plan.manifests.append(model.digest) }
        }
        plan.quotaUnmet = Double(remaining + reservedBytes) > target
        plan.freedBytes = plan.storedBytesBefore - remaining
        return plan
    }
}
