extension Store {
    public struct Usage: Sendable, Hashable {
        /// Bytes of all files of all referenced models, as a reader sees them.
        public var logicalBytes: UInt64
        /// Uncompressed bytes of the distinct chunks present.
        public var uniqueBytes: UInt64
        /// Bytes the chunk files take on disk.
        public var storedBytes: UInt64
        public var chunkCount: Int
        public var modelCount: Int

        /// How many logical bytes each stored byte serves.
        public var dedupRatio: Double { storedBytes == 0 ? 1 : Double(logicalBytes) / Double(storedBytes) }
    }

    public func usage() throws -> Usage {
        let records = try database.chunkRecords()
        let references = try references()
        var logical: UInt64 = 0
        for (_, digest) in references {
            logical += (try? manifest(digest).logicalSize) ?? 0
        }
        return Usage(
            logicalBytes: logical,
            uniqueBytes: records.reduce(0) { $0 + $1.size },
            storedBytes: records.reduce(0) { $0 + $1.storedSize },
            chunkCount: records.count,
            modelCount: references.count
        )
    }

    /// Bytes the chunk files take on disk, what a quota counts; without reading a manifest.
    public func storedBytes() throws -> UInt64 { try database.storedBytes() }

    /// Bytes on disk of every chunk the store has, compressed or not.
    public func storedSizes() throws -> [ChunkID: UInt64] {
        Dictionary(try database.chunkRecords().map { ($0.id, $0.storedSize) }, uniquingKeysWith: { first, _ in first })
    }

    /// How many of the chunks a manifest uses are present, their logical bytes, and the bytes their files
    /// take (from `storedSizes`).
    public func presence(
        of manifest: Manifest, storedSizes: [ChunkID: UInt64]
    ) -> (present: Int, total: Int, presentBytes: UInt64, storedBytes: UInt64) {
        var present = 0
        var bytes: UInt64 = 0
        var stored: UInt64 = 0
        let lengths = Dictionary(manifest.files.flatMap { $0.chunks.map { ($0.id, $0.length) } }, uniquingKeysWith: { first, _ in first })
        for (id, length) in lengths where contains(id) {
            present += 1
            bytes += length
            stored += storedSizes[id] ?? 0
        }
        return (present, lengths.count, bytes, stored)
    }
}
