#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

extension Store {
    var sessionsDirectory: String { root + "/sessions" }
    /// Holds the boot id of the last recovery.
    var recoveredMarkerPath: String { root + "/recovered" }

    /// Recovers unless every process that used the store since the last recovery, in this boot, closed it.
    /// Recovery reads every chunk file name and database row, so a large store is not rescanned on every open:
    /// a process that dies leaves its file in `sessions/`, and a reboot (a power loss too, which can undo writes
    /// not yet synced) changes the kernel's boot id. Neither file needs to be durable: only a reboot loses them.
    /// A store this process just created has nothing to recover.
    func recoverIfNeeded(databaseExisted: Bool, storeIsNew: Bool) throws {
        let leftSessions = FileSystem.entries(of: sessionsDirectory)
        let bootID = Self.bootID()
        let recoveredIn = (try? FileSystem.readAll(recoveredMarkerPath)).map { String(decoding: $0, as: UTF8.self) }
        guard !databaseExisted || !leftSessions.isEmpty || bootID == nil || recoveredIn != bootID else {
            // A store from before pin files gets them now, once.
            if !FileSystem.exists(pinFilesCompleteMarker) { try reconcilePins() }
            return
        }
        if !leftSessions.isEmpty {
            logger.notice("recovering after a process that used the store ended without closing it", metadata: ["sessions": "\(leftSessions.count)"])
        }
        // A crash or power loss is also when a database's pages can go bad; reading them all costs about what
        // recovery's reading of every row does.
        if databaseExisted {
            do {
                try database.check()
            } catch StoreError.databaseDamaged(_, let damage) {
                try replaceDamagedDatabase(damage)
            }
        }
        if !storeIsNew { try recover() }
        for name in leftSessions { unlink("\(sessionsDirectory)/\(name)") }
        guard let bootID else { return }
        try FileSystem.writeAtomically(Array(bootID.utf8), to: recoveredMarkerPath, temporaryDirectory: temporaryDirectory, durable: false)
    }

    /// The kernel's id for this boot, or nil where there is none (then every exclusive open recovers).
    static func bootID() -> String? {
        guard let file = try? FileDescriptor.open("/proc/sys/kernel/random/boot_id", flags: O_RDONLY),
            let bytes = try? file.read(count: 64, at: 0)
        else { return nil }
        let id = String(decoding: bytes, as: UTF8.self).trimmingWhitespace
        return id.isEmpty ? nil : id
    }

    /// Start-up recovery: drops temporary files left by a crash and brings the database back in line with the
    /// chunk and manifest files, which are the truth.
    func recover() throws {
        for name in FileSystem.entries(of: temporaryDirectory) {
            unlink("\(temporaryDirectory)/\(name)")
        }
        try reconcileChunks()
        try reconcileManifests()
        try reconcilePins()
        try recoverRegistrations()
    }

    /// Moves a damaged database aside and starts an empty one, which the recovery that follows fills from the
    /// store's files: chunks, manifests, references and pins are all files, so only access times are lost.
    func replaceDamagedDatabase(_ damage: String) throws {
        let aside = try database.replaceDamaged()
        logger.error(
            "the metadata database was damaged; it was moved aside and is rebuilt from the store's files",
            metadata: [
                "damage": "\(damage)", "moved to": "\(aside)",
            ])
    }

    private func reconcileChunks() throws {
        var onDisk: [ChunkID: ChunkLocation] = [:]
        // A folder that cannot be listed must fail recovery: read as empty, it would forget every chunk in it.
        for prefix in try FileSystem.listing(of: chunksDirectory) {
            for name in try FileSystem.listing(of: "\(chunksDirectory)/\(prefix)") {
                if name.hasPrefix(Self.temporaryChunkPrefix) {
                    unlink("\(chunksDirectory)/\(prefix)/\(name)")
                    continue
                }
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
        for name in try FileSystem.listing(of: manifestsDirectory) where name.hasSuffix(".json") {
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
