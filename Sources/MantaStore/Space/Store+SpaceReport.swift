extension Store {
    /// How the store's disk space divides between what eviction may free and what is held, against its quota.
    public struct SpaceReport: Sendable, Hashable, Codable {
        public var quotaBytes: UInt64?
        /// Bytes the chunk files take on disk.
        public var usedBytes: UInt64
        /// Bytes the mounts' passthrough copies take beside the chunks (`Store.passthroughCopies()`): counted against
        /// the quota and evicted before any model, but never held (a copy open through a mount goes once it closes).
        public var passthroughBytes: UInt64
        /// Bytes that evicting every model nothing holds would free (garbage included).
        public var evictableBytes: UInt64
        /// The held models, the biggest first.
        public var holds: [Hold]

        public struct Hold: Sendable, Hashable, Codable {
            /// `org/name@revision`, or the manifest digest of a pin no reference names.
            public var model: String
            /// The pins' holders: `import:…`, `user:…`, `replication:…`, `open:<pid>`, `volume:…`.
            public var holders: [String]
            /// Bytes its chunks take on disk (chunks shared with other models counted in each).
            public var storedBytes: UInt64
        }

        /// Bytes no eviction frees.
        public var heldBytes: UInt64 { usedBytes - evictableBytes }

        /// Bytes the quota's watermarks are compared with: the chunks and the passthrough copies.
        public var quotaUsedBytes: UInt64 { usedBytes + passthroughBytes }

        /// Whether `neededBytes` more fit under the quota once everything evictable is gone (always, without a quota).
        public func fits(_ neededBytes: UInt64) -> Bool {
            guard let quotaBytes else { return true }
            return neededBytes <= quotaBytes && heldBytes <= quotaBytes - neededBytes
        }

        /// What holds the space, for a refusal: the biggest holds first, at most `limit` of them.
        public func describeHolds(limit: Int = 5) -> String {
            guard !holds.isEmpty else { return "nothing holds it (the store is empty or all of it is evictable)" }
            var parts = holds.prefix(limit).map { "\($0.model) (\($0.storedBytes) bytes; \($0.holders.joined(separator: ", ")))" }
            if holds.count > limit { parts.append("and \(holds.count - limit) more") }
            return parts.joined(separator: "; ")
        }
    }

    /// The quota, the bytes used, and what eviction could free or not. Reads under the shared lock.
    public func spaceReport(quotaBytes: UInt64? = nil) throws -> SpaceReport {
        let holdings = try holdings()
        let evictable = holdings.records.reduce(UInt64(0)) { $0 + (holdings.heldChunks.contains($1.id) ? 0 : $1.storedSize) }
        var holds = holdings.models.filter { !$0.holders.isEmpty }.map { model in
            SpaceReport.Hold(
                model: model.reference.description, holders: model.holders.sorted(),
                storedBytes: model.chunks.reduce(0) { $0 + (holdings.storedSizes[$1] ?? 0) })
        }
        let named = Set(holdings.models.map(\.digest))
        for (digest, holders) in Dictionary(grouping: try pins(), by: { $0.manifest }) where !named.contains(digest) {
            let stored = try database.chunks(usedBy: [digest]).reduce(UInt64(0)) { $0 + (holdings.storedSizes[$1] ?? 0) }
            holds.append(SpaceReport.Hold(model: "\(digest)", holders: holders.map { $0.holder }.sorted(), storedBytes: stored))
        }
        holds.sort { ($0.storedBytes, $1.model) > ($1.storedBytes, $0.model) }
        return SpaceReport(
            quotaBytes: quotaBytes ?? configuration.quotaBytes, usedBytes: holdings.storedBytes, passthroughBytes: passthroughBytes(),
            evictableBytes: evictable, holds: holds)
    }
}
