/// What holds the store's space: every model (referenced, or registered lazily) with the chunks it uses and the
/// pins that keep it, worked out once for GC and for the space report.
extension Store {
    struct HeldModel {
        var reference: RepoReference
        var digest: Digest
        var lazy: Bool
        var chunks: Set<ChunkID>
        /// The pins on its manifest (or registration); empty: eviction may take it.
        var holders: [String]
        /// The newest access time of its present chunks.
        var lastUse: Int64
    }

    struct Holdings {
        var models: [HeldModel]
        /// Chunk records, least recently used first.
        var records: [ChunkRecord]
        var storedSizes: [ChunkID: UInt64]
        /// How many kept models (and pinned manifests no reference names) use each chunk.
        var chunkUsers: [ChunkID: Int]
        /// Chunks of held models and of pinned manifests: never evicted.
        var heldChunks: Set<ChunkID>
        /// Manifests some pin holds, named by a reference or not (an open file keeps a manifest its reference moved off).
        var pinnedManifests: Set<Digest>
        var storedBytes: UInt64

        /// Models nothing holds, least recently used first (ties by name, so the order is the same every time).
        var evictionOrder: [HeldModel] {
            models.filter(\.holders.isEmpty).sorted { ($0.lastUse, $0.reference.description) < ($1.lastUse, $1.reference.description) }
        }
    }

    func holdings() throws -> Holdings {
        let records = try database.chunkRecords()
        let storedSizes = Dictionary(records.map { ($0.id, $0.storedSize) }, uniquingKeysWith: { first, _ in first })
        let lastAccess = Dictionary(records.map { ($0.id, $0.lastAccess) }, uniquingKeysWith: max)
        let holders = Dictionary(grouping: try pins(), by: { $0.manifest }).mapValues { $0.map { $0.holder } }
        func model(_ reference: RepoReference, _ digest: Digest, lazy: Bool, chunks: Set<ChunkID>) -> HeldModel {
            HeldModel(
                reference: reference, digest: digest, lazy: lazy, chunks: chunks, holders: holders[digest] ?? [],
                lastUse: chunks.compactMap { lastAccess[$0] }.max() ?? 0)
        }
        var models = try references().map { model($0.reference, $0.digest, lazy: false, chunks: try database.chunks(usedBy: [$0.digest])) }
        for (reference, digest) in try registrations() {
            guard let registration = try? registration(digest) else { continue }
            let chunks = Set(progress(of: digest, registration: registration).ids.joined().compactMap { $0 })
            models.append(model(reference, digest, lazy: true, chunks: chunks))
        }
        let named = Set(models.map(\.digest))
        let pinnedOnly = holders.keys.filter { !named.contains($0) }
        var chunkUsers: [ChunkID: Int] = [:]
        var heldChunks = try database.chunks(usedBy: pinnedOnly)
        for id in heldChunks { chunkUsers[id, default: 0] += 1 }
        for model in models {
            for id in model.chunks { chunkUsers[id, default: 0] += 1 }
            if !model.holders.isEmpty { heldChunks.formUnion(model.chunks) }
        }
        return Holdings(
            models: models, records: records, storedSizes: storedSizes, chunkUsers: chunkUsers, heldChunks: heldChunks,
            pinnedManifests: Set(holders.keys), storedBytes: records.reduce(0) { $0 + $1.storedSize })
    }
}
