import CLinux

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#endif

extension Store {
    public struct ChunkLocation: Sendable, Hashable {
        public var path: String
        public var encoding: ChunkEncoding

        public init(path: String, encoding: ChunkEncoding) {
            self.path = path
            self.encoding = encoding
        }

        /// The chunk's bytes from this file, checked against `expectedSize` when the caller knows it; not hashed.
        public func decoded(expectedSize: Int? = nil) throws -> [UInt8] {
            try encoding.decode(try FileSystem.readAll(path), expectedSize: expectedSize)
        }
    }

    func chunkPath(_ id: ChunkID, encoding: ChunkEncoding) -> String {
        "\(chunkFolder(id))/\(id.hex)\(encoding.suffix)"
    }

    func chunkFolder(_ id: ChunkID) -> String {
        "\(chunksDirectory)/\(id.hex.prefix(2))"
    }

    /// A chunk being written lies in its own folder under a name that starts with this, which no chunk's does:
    /// naming it is then a rename within one folder. Recovery removes those left by a crash.
    static let temporaryChunkPrefix = "."

    /// Where the chunk's file is, if the store has it.
    public func location(of id: ChunkID) -> ChunkLocation? {
        for encoding in ChunkEncoding.allCases {
            let path = chunkPath(id, encoding: encoding)
            if FileSystem.exists(path) { return ChunkLocation(path: path, encoding: encoding) }
        }
        return nil
    }

    public func contains(_ id: ChunkID) -> Bool { location(of: id) != nil }

    /// The seal recorded when the chunk's file was last checked against its id; nil if it never was (a store
    /// from before seals, a chunk found by recovery) or the database cannot be read.
    public func seal(of id: ChunkID) -> ChunkSeal? {
        try? database.seal(of: id)
    }

    /// Records that the chunk files, as they are now, hold bytes that hash to their ids.
    public func recordSeals(_ seals: [(id: ChunkID, seal: ChunkSeal)]) throws {
        guard !seals.isEmpty else { return }
        try database.recordSeals(seals)
    }

    /// Stores `bytes` as chunk `id` unless it is already there, durably (its own `fdatasync`). The caller
    /// has hashed `bytes` (ids are checked on entry: pass `verify: true` for bytes from elsewhere). Returns
    /// the bytes written to disk, 0 when the chunk was already present. The chunk's folder still needs
    /// `syncChunkFolders` before a manifest may name it. Many chunks at once go faster through a
    /// `ChunkWriteBatch`.
    /// `pastPageCache`: write its whole 4 KiB blocks with `O_DIRECT` (a pull's chunks, which would otherwise cost
    /// more CPU in the page cache than in their hashes; the mount then reads them from disk), from `bytes` where it
    /// is aligned, else copied through one of the store's aligned buffers where the store keeps chunks plain.
    @discardableResult
    public func put(_ id: ChunkID, bytes: UnsafeRawBufferPointer, verify: Bool = false, pastPageCache: Bool = false) throws -> UInt64 {
        if verify {
            let actual = SHA256Hasher.hash(bytes)
            guard actual == id else { throw StoreError.hashMismatch(expected: id, actual: actual) }
        }
        let batch = ChunkWriteBatch(store: self, durability: .eachFile, pastPageCache: pastPageCache)
        let stored: UInt64
        if pastPageCache, configuration.compression == .none, Int(bitPattern: bytes.baseAddress) % 4096 != 0 {
            stored = try pieceBuffers.withBuffer { buffer in
                try batch.add(id, size: bytes.count, through: buffer) { piece, offset in
                    piece.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + piece.count)]))
                }
            }
        } else {
            stored = try batch.add(id, bytes: bytes)
        }
        try batch.commit()
        return stored
    }

    /// Makes everything written to the store's file system durable in one journal commit (`syncfs`), where an
    /// `fsync` per file or folder would commit once each.
    func syncFileSystem() throws {
        let directory = try FileDescriptor.open(root, flags: O_RDONLY | O_DIRECTORY)
        guard clinux_syncfs(directory.raw) == 0 else { throw StoreError.fromErrno(errno, path: root, operation: "sync") }
    }

    /// Makes the renames of newly stored chunks durable.
    public func syncChunkFolders(for ids: some Sequence<ChunkID>) throws {
        for prefix in Set(ids.map { $0.hex.prefix(2) }) {
            try FileSystem.syncDirectory("\(chunksDirectory)/\(prefix)")
        }
    }

    /// Hands the chunk's bytes to `consume` in pieces, unchecked: for a caller that hashes them anyway and reads many
    /// chunks, so that it needs no fresh memory per chunk (a compressed chunk is decoded whole). A plain chunk is read
    /// past the page cache, through one of the store's aligned buffers: a pull reads back what it just wrote past it.
    public func readChunk(_ id: ChunkID, file: String? = nil, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let location = location(of: id) else { throw StoreError.missingChunk(file: file ?? "?", chunk: id) }
        guard location.encoding == .plain else {
            let bytes: [UInt8]
            do {
                bytes = try location.decoded()
            } catch is ChunkDecodingError {
                throw StoreError.corruptChunk(file: file, chunk: id)
            }
            return try bytes.withUnsafeBytes(consume)
        }
        let descriptor = try FileDescriptor.open(location.path, flags: O_RDONLY)
        let size = try descriptor.size()
        var direct = clinux_set_direct(descriptor.raw, 1) == 0
        try pieceBuffers.withBuffer { buffer in
            var offset: UInt64 = 0
            while offset < size {
                // A direct read must start on a block; should one come back short before the end, the rest goes through the cache.
                if direct, offset % 4096 != 0 { direct = clinux_set_direct(descriptor.raw, 0) != 0 }
                let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[..<Int(min(UInt64(buffer.count), size - offset))])
                let count = try direct ? descriptor.readOnce(into: buffer, at: offset) : descriptor.read(into: piece, at: offset)
                guard count > 0 else { throw StoreError.corruptChunk(file: file, chunk: id) }
                try consume(UnsafeRawBufferPointer(rebasing: buffer[..<min(count, piece.count)]))
                offset += UInt64(min(count, piece.count))
            }
        }
    }

    /// The chunk's bytes, checked against its id unless `verify` is false (for a caller that hashes them anyway).
    public func read(_ id: ChunkID, file: String? = nil, verify: Bool = true) throws -> [UInt8] {
        guard let location = location(of: id) else { throw StoreError.missingChunk(file: file ?? "?", chunk: id) }
        let bytes = try Self.readVerified(id, at: location, verify: verify)
        guard let bytes else { throw StoreError.corruptChunk(file: file, chunk: id) }
        return bytes
    }

    /// Nil when the file does not decode or its bytes do not hash to `id`; throws only when it cannot be read.
    static func readVerified(_ id: ChunkID, at location: ChunkLocation, verify: Bool = true) throws -> [UInt8]? {
        let bytes: [UInt8]
        do {
            bytes = try location.decoded()
        } catch is ChunkDecodingError {
            return nil
        }
        return !verify || SHA256Hasher.hash(bytes) == id ? bytes : nil
    }

    /// Deletes these chunks' files and forgets them.
    func deleteChunks(_ ids: [ChunkID]) throws {
        for id in ids {
            if let location = location(of: id) { unlink(location.path) }
        }
        try database.forgetChunks(ids)
    }

    /// Moves a chunk file whose bytes were found not to hash to `id` into `quarantine/` and forgets it, so that no
    /// reader finds it again and a pull fetches it anew. Safe beside other processes: a chunk file is never
    /// rewritten, so one that fails its hash stays wrong until it is replaced.
    public func quarantineChunk(_ id: ChunkID) throws {
        guard let location = location(of: id) else { return }
        try moveToQuarantine(location, of: id)
        try database.forgetChunks([id])
    }

    /// Moves a chunk's file into `quarantine/`, where no reader finds it; the database still names the chunk.
    func moveToQuarantine(_ location: ChunkLocation, of id: ChunkID) throws {
        let name = location.path.split(separator: "/").last.map(String.init) ?? id.hex
        guard rename(location.path, "\(quarantineDirectory)/\(name)") == 0 else {
            throw StoreError.fromErrno(errno, path: location.path, operation: "quarantine")
        }
    }

    /// Moves a manifest that does not hash to its name, does not parse, or whose files changed into `quarantine/`.
    func quarantineManifest(_ digest: Digest) throws {
        rename(manifestPath(digest), "\(quarantineDirectory)/\(digest.hex).json")
        try database.forgetManifest(digest)
    }

    /// Records that these chunks were read now, for least-recently-used eviction.
    public func touch(_ ids: some Sequence<ChunkID>) throws {
        try database.touch(ids)
    }

    /// Records when each of these chunks was read (times from `accessTime()`); an older time never replaces a
    /// newer one.
    public func touch(_ accesses: [ChunkID: Int64]) throws {
        try database.touch(accesses.lazy.map { (id: $0.key, time: $0.value) })
    }

    /// The time `touch` records for a read now.
    public static func accessTime() -> Int64 { MetadataDatabase.now() }
}
