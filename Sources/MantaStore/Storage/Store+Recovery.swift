#if canImport(Glibc)
import Glibc
#endif

extension Store {
    /// Start-up recovery, run by the first process to open the store: drops temporary files left by a crash
    /// and brings the database back in line with the chunk and manifest files, which are the truth.
    func recover() throws {
        for name in FileSystem.entries(of: temporaryDirectory) {
            unlink("\(temporaryDirectory)/\(name)")
        }
        try reconcileChunks()
        try reconcileManifests()
        try recoverRegistrations()
    }

    private func reconcileChunks() throws {
        var onDisk: [ChunkID: ChunkLocation] = [:]
        for prefix in FileSystem.entries(of: chunksDirectory) {
            for name in FileSystem.entries(of: "\(chunksDirectory)/\(prefix)") {
                guard let (id, encoding) = ChunkEncoding.parse(fileName: name) else {
                    logger.warning("unexpected file in the chunk folder", metadata: ["file": "\(prefix)/\(name)"])
                    continue
                }
                onDisk[id] = ChunkLocation(path: "\(chunksDirectory)/\(prefix)/\(name)", encoding: encoding)
            }
        }
        let records = try database.chunkRecords()
        let known = Set(records.map(\.id))
        let vanished = records.map(\.id).filter { onDisk[$0] == nil }
        if !vanished.isEmpty {
            logger.notice("forgetting chunks whose files are gone", metadata: ["count": "\(vanished.count)"])
            try database.forgetChunks(vanished)
        }
        for (id, location) in onDisk where !known.contains(id) {
            let stored = try FileDescriptor.open(location.path, flags: O_RDONLY)
            let storedSize = try stored.size()
            var size = storedSize
            if location.encoding != .plain {
                // A file whose header states no size is corrupt; `verify` quarantines it.
                let header = try stored.read(count: ChunkEncoding.sizeHeaderBytes, at: 0)
                size = header.withUnsafeBytes { ChunkEncoding.statedSize($0, encoding: location.encoding) } ?? 0
            }
            try database.recordChunk(ChunkRecord(id: id, size: size, storedSize: storedSize, compressed: location.encoding != .plain))
        }
    }

    private func reconcileManifests() throws {
        var onDisk = Set<Digest>()
        for name in FileSystem.entries(of: manifestsDirectory) where name.hasSuffix(".json") {
            guard let digest = Digest(hex: name.dropLast(5)) else { continue }
            onDisk.insert(digest)
        }
        let known = Set(try database.manifestDigests())
        for digest in known.subtracting(onDisk) {
            try database.forgetManifest(digest)
        }
        for digest in onDisk.subtracting(known) {
            do {
                try database.recordManifest(digest, try manifest(digest))
            } catch {
                logger.error("quarantining an unreadable manifest", metadata: ["manifest": "\(digest)", "error": "\(error)"])
                rename(manifestPath(digest), "\(quarantineDirectory)/\(digest.hex).json")
            }
        }
    }
}
