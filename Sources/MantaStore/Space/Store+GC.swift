#if canImport(Glibc)
import Glibc
#endif

extension Store {
    public struct GCPlan: Sendable, Codable {
        /// Manifests that no reference names and no pin holds (with those of evicted models).
        public var manifests: [Digest] = []
        /// Chunks to delete, in the order they go: unused first, then those of evicted models.
        public var chunks: [ChunkID] = []
        /// Passthrough copies deleted to meet the quota, the least recently read first; they go before any model.
        public var passthroughCopies: [PassthroughCopy] = []
        /// Models evicted to meet the quota, least recently used first.
        public var evicted: [EvictedModel] = []
        /// Bytes freed: chunks and passthrough copies.
        public var freedBytes: UInt64 = 0
        public var storedBytesBefore: UInt64 = 0
        public var passthroughBytesBefore: UInt64 = 0
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

    /// Frees garbage (manifests nothing names; chunks no manifest uses), then, while the chunks, the passthrough
    /// copies and `reservedBytes` (room for a pull about to start) take more than the high watermark of the quota,
    /// deletes the least recently read passthrough copies no file is open on, then evicts the least recently used
    /// models that nothing holds, down to the low watermark. A held model (a pin of any holder: import, user,
    /// Replication, open file, CSI volume) and every chunk it uses stay. With `dryRun` nothing is deleted.
    public func collectGarbage(dryRun: Bool, quotaBytes: UInt64? = nil, reserving reservedBytes: UInt64 = 0) throws -> GCPlan {
        try exclusively {
            var plan = try planCollection(quotaBytes: quotaBytes ?? configuration.quotaBytes, reserving: reservedBytes)
            guard !dryRun else { return plan }
            // A copy opened since it was planned stays; its bytes are not freed.
            let kept = plan.passthroughCopies.filter { !removePassthroughCopyIfUnopened($0) }
            plan.passthroughCopies.removeAll { kept.contains($0) }
            plan.freedBytes -= kept.reduce(0) { $0 + $1.bytes }
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

        let copies = passthroughCopies()
        plan.storedBytesBefore = holdings.storedBytes
        plan.passthroughBytesBefore = copies.reduce(0) { $0 + $1.bytes }
        let before = plan.storedBytesBefore + plan.passthroughBytesBefore
        var remaining = before
        for record in holdings.records where users[record.id, default: 0] == 0 {
            plan.chunks.append(record.id)
            remaining -= record.storedSize
        }
        guard configuration.passesHighWatermark(remaining + reservedBytes, quotaBytes: quotaBytes) else {
            plan.freedBytes = before - remaining
            return plan
        }
        let aboveTarget = { self.configuration.passesLowWatermark(remaining + reservedBytes, quotaBytes: quotaBytes) }
        // The copies go first: a cache each mount builds again from the chunks on the file's next open.
        for copy in copies where aboveTarget() && !isPassthroughCopyOpen(copy) {
            plan.passthroughCopies.append(copy)
            remaining -= copy.bytes
        }
        var namedAfter = Dictionary(holdings.models.filter { !$0.lazy }.map { ($0.digest, 1) }, uniquingKeysWith: +)
        for model in holdings.evictionOrder {
            guard aboveTarget() else { break }
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
        plan.quotaUnmet = aboveTarget()
        plan.freedBytes = before - remaining
        return plan
    }
}
