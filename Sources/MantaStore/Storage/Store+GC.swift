#if canImport(Glibc)
import Glibc
#endif

extension Store {
    public struct GCPlan: Sendable {
        /// Manifests that no reference names and no pin holds.
        public var manifests: [Digest] = []
        /// Chunks to delete, in the order they go: unused first, then least recently used.
        public var chunks: [ChunkID] = []
        public var freedBytes: UInt64 = 0
        public var storedBytesBefore: UInt64 = 0
        /// Set when the quota could not be met because everything left is pinned.
        public var quotaUnmet = false
    }

    /// Frees garbage (manifests nothing names; chunks no manifest uses), then, while the chunks take more
    /// than the high watermark of the quota, evicts least recently used chunks down to the low watermark.
    /// Chunks of pinned manifests are never evicted. With `dryRun` nothing is deleted.
    public func collectGarbage(dryRun: Bool, quotaBytes: UInt64? = nil) throws -> GCPlan {
        try exclusively {
            let plan = try planCollection(quotaBytes: quotaBytes ?? configuration.quotaBytes)
            guard !dryRun else { return plan }
            for digest in plan.manifests {
                unlink(manifestPath(digest))
                try database.forgetManifest(digest)
            }
            try deleteChunks(plan.chunks)
            return plan
        }
    }

    private func planCollection(quotaBytes: UInt64?) throws -> GCPlan {
        var plan = GCPlan()
        let named = Set(try references().map(\.digest))
        let pinned = Set(try pins().map(\.manifest))
        let manifests = try database.manifestDigests()
        plan.manifests = manifests.filter { !named.contains($0) && !pinned.contains($0) }.sorted()
        let kept = manifests.filter { named.contains($0) || pinned.contains($0) }
        // Chunks fetched for a registered model are in use until it completes.
        let registered = try registeredChunks()
        let used = try database.chunks(usedBy: kept).union(registered)
        let protected = try database.chunks(usedBy: Array(pinned)).union(registered)

        let records = try database.chunkRecords()
        plan.storedBytesBefore = records.reduce(0) { $0 + $1.storedSize }
        var remaining = plan.storedBytesBefore
        for record in records where !used.contains(record.id) {
            plan.chunks.append(record.id)
            remaining -= record.storedSize
        }
        if let quotaBytes, Double(remaining) > Double(quotaBytes) * configuration.highWatermark {
            let target = UInt64(Double(quotaBytes) * configuration.lowWatermark)
            for record in records where used.contains(record.id) && !protected.contains(record.id) {
                guard remaining > target else { break }
                plan.chunks.append(record.id)
                remaining -= record.storedSize
            }
            plan.quotaUnmet = remaining > target
        }
        plan.freedBytes = plan.storedBytesBefore - remaining
        return plan
    }
}
