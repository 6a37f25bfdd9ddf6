#if canImport(Glibc)
import Glibc
#endif

extension Store {
    public struct VerifyReport: Sendable {
        public var chunksChecked = 0
        public var bytesChecked: UInt64 = 0
        /// Chunks whose bytes did not hash to their id; moved to `quarantine/`.
        public var corruptChunks: [ChunkID] = []
        /// Manifests whose bytes did not hash to their name, or did not parse; moved to `quarantine/`.
        public var corruptManifests: [Digest] = []
        /// Locally imported models missing chunks (they cannot be fetched again from anywhere).
        public var damagedModels: [(reference: RepoReference, missing: [ChunkID])] = []

        public var isClean: Bool { corruptChunks.isEmpty && corruptManifests.isEmpty && damagedModels.isEmpty }
    }

    /// Recomputes the hash of every chunk and manifest; quarantines what is corrupt; reports local models
    /// left incomplete. Runs alone: other processes using the store are waited for. Starts with recovery, which
    /// an open skips when no process crashed: so files changed behind the store's back are reconciled too.
    public func verify(progress: (UInt64) -> Void = { _ in }) throws -> VerifyReport {
        try exclusively {
            try recover()
            var report = VerifyReport()
            var seals: [(id: ChunkID, seal: ChunkSeal)] = []
            for record in try database.chunkRecords() {
                guard let location = location(of: record.id) else { continue }
                report.chunksChecked += 1
                report.bytesChecked += record.size
                progress(record.size)
                if (try? Self.readVerified(record.id, at: location)) ?? nil == nil {
                    logger.error("quarantining a corrupt chunk", metadata: ["chunk": "\(record.id)", "path": "\(location.path)"])
                    let name = location.path.split(separator: "/").last.map(String.init) ?? record.id.hex
                    guard rename(location.path, "\(quarantineDirectory)/\(name)") == 0 else {
                        throw StoreError.fromErrno(errno, path: location.path, operation: "quarantine")
                    }
                    report.corruptChunks.append(record.id)
                } else if let seal = ChunkSeal(path: location.path) {
                    seals.append((record.id, seal))
                }
            }
            try database.forgetChunks(report.corruptChunks)
            try recordSeals(seals)
            for digest in try database.manifestDigests() {
                do {
                    _ = try manifest(digest)
                } catch {
                    logger.error("quarantining a corrupt manifest", metadata: ["manifest": "\(digest)", "error": "\(error)"])
                    rename(manifestPath(digest), "\(quarantineDirectory)/\(digest.hex).json")
                    try database.forgetManifest(digest)
                    report.corruptManifests.append(digest)
                }
            }
            for (reference, digest) in try references() {
                guard let manifest = try? manifest(digest), manifest.source.kind == "local" else { continue }
                let missing = manifest.chunkIDs.filter { !contains($0) }
                if !missing.isEmpty { report.damagedModels.append((reference, missing)) }
            }
            return report
        }
    }
}
