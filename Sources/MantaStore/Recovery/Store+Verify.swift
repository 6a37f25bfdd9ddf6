import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

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
        /// Files whose stored bytes do not have the git blob id the hub gave (recorded in their manifest): changed
        /// after the hub vouched for them, chunk ids and all. Their manifests are moved to `quarantine/`.
        public var changedFiles: [(manifest: Digest, path: String, expected: String, actual: String)] = []

        public var isClean: Bool { corruptChunks.isEmpty && corruptManifests.isEmpty && damagedModels.isEmpty && changedFiles.isEmpty }
    }

    /// Recomputes the hash of every chunk and manifest; quarantines what is corrupt; reports local models
    /// left incomplete. Runs alone: other processes using the store are waited for. Starts with recovery, which
    /// an open skips when no process crashed: so files changed behind the store's back are reconciled too.
    public func verify(
        workers: Int = ProcessInfo.processInfo.activeProcessorCount, progress: @escaping @Sendable (UInt64) -> Void = { _ in }
    ) throws -> VerifyReport {
        try exclusively {
            try recover()
            var report = VerifyReport()
            var seals: [(id: ChunkID, seal: ChunkSeal)] = []
            let chunks = try database.chunkRecords().compactMap { record in location(of: record.id).map { (record, $0) } }
            let intact = try chunksIntact(chunks, workers: workers, progress: progress)
            for ((record, location), intact) in zip(chunks, intact) {
                report.chunksChecked += 1
                report.bytesChecked += record.size
                if !intact {
                    logger.error("quarantining a corrupt chunk", metadata: ["chunk": "\(record.id)", "path": "\(location.path)"])
                    try moveToQuarantine(location, of: record.id)
                    report.corruptChunks.append(record.id)
                } else if let seal = ChunkSeal(path: location.path) {
                    seals.append((record.id, seal))
                }
            }
            try database.forgetChunks(report.corruptChunks)
            try recordSeals(seals)
            for digest in try database.manifestDigests() {
                let manifest: Manifest
                do {
                    manifest = try self.manifest(digest)
                } catch {
                    logger.error("quarantining a corrupt manifest", metadata: ["manifest": "\(digest)", "error": "\(error)"])
                    try quarantineManifest(digest)
                    report.corruptManifests.append(digest)
                    continue
                }
                let changed = try changedFiles(of: manifest)
                guard !changed.isEmpty else { continue }
                for file in changed {
                    logger.error(
                        "a file's bytes are not those the hub gave: quarantining its manifest",
                        metadata: ["manifest": "\(digest)", "file": "\(file.path)", "expected": "\(file.expected)", "actual": "\(file.actual)"]
                    )
                    report.changedFiles.append((digest, file.path, file.expected, file.actual))
                }
                try quarantineManifest(digest)
            }
            for (reference, digest) in try references() {
                guard let manifest = try? manifest(digest), manifest.source.kind == "local" else { continue }
                let missing = manifest.chunkIDs.filter { !contains($0) }
                if !missing.isEmpty { report.damagedModels.append((reference, missing)) }
            }
            return report
        }
    }

    /// The files of `manifest` with a recorded git blob id whose stored bytes have another; files with a chunk
    /// missing are left to the chunk checks (a quarantined chunk is reported there).
    private func changedFiles(of manifest: Manifest) throws -> [(path: String, expected: String, actual: String)] {
        var changed: [(path: String, expected: String, actual: String)] = []
        for file in manifest.files {
            guard let expected = file.gitBlobID, file.chunks.allSatisfy({ contains($0.id) }) else { continue }
            let actual = try gitBlobID(of: file)
            if actual != expected { changed.append((file.path, expected, actual)) }
        }
        return changed
    }

    /// The git blob id of `file`'s stored bytes (see `GitBlobHasher`), every chunk checked against its id on the way.
    /// Blocking; meant for the small files the hub keeps out of LFS.
    public func gitBlobID(of file: Manifest.File) throws -> String {
        let hasher = GitBlobHasher(size: file.size)
        for chunk in file.chunks {
            hasher.update(try read(chunk.id, file: file.path))
        }
        return hasher.finalize()
    }

    /// Whether each chunk's file holds bytes that hash to its id, in `chunks`' order, on `workers` threads.
    /// Plain chunks are hashed where they lie, two or sixteen at a time per thread (`ChunkPairHasher`); compressed
    /// ones are decoded first.
    private func chunksIntact(
        _ chunks: [(record: ChunkRecord, location: ChunkLocation)], workers: Int, progress: @escaping @Sendable (UInt64) -> Void
    ) throws -> [Bool] {
        let intact = Mutex([Bool](repeating: false, count: chunks.count))
        let nextIndex = Atomic(0)
        try WorkerThreads.run(count: max(1, min(workers, chunks.count))) { cancelled in
            try ChunkPairHasher.hashAll(
                sixteenFrom: HashCosts.measured.sixteenFrom,
                next: { () throws -> (item: Int, mapping: FileMapping)? in
                    while !cancelled.load(ordering: .relaxed) {
                        let index = nextIndex.add(1, ordering: .relaxed).oldValue
                        guard index < chunks.count else { return nil }
                        let (record, location) = chunks[index]
                        if location.encoding == .plain, let mapping = (try? Self.mapWhole(location.path)) ?? nil {
                            return (index, mapping)
                        }
                        let readable = (try? Self.readVerified(record.id, at: location)) ?? nil
                        intact.withLock { $0[index] = readable != nil }
                        progress(record.size)
                    }
                    return nil
                },
                done: { index, _, digest in
                    intact.withLock { $0[index] = digest == chunks[index].record.id }
                    progress(chunks[index].record.size)
                }
            )
        }
        return intact.withLock { $0 }
    }

    /// A mapping of a whole non-empty file; nil when it is empty (nothing to map).
    private static func mapWhole(_ path: String) throws -> FileMapping? {
        let file = try FileDescriptor.open(path, flags: O_RDONLY)
        let size = try file.size()
        guard size > 0 else { return nil }
        return try FileMapping(file, path: path, offset: 0, length: Int(size))
    }
}
