import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// New chunks written as temporary files and named only once their bytes are durable, so a crash never
/// leaves a valid chunk name over bad bytes. With `.batched` durability the whole batch is made durable
/// by one `syncfs` (one journal commit, as `cp` + `sync` does) instead of one `fdatasync` per chunk. Past the
/// page cache (always when batched, on request otherwise) each chunk's whole 4 KiB blocks are written with
/// `O_DIRECT` from the caller's aligned buffer, the rest through the cache (with write-back started at once when
/// batched). Used by one thread at a time.
public final class ChunkWriteBatch {
    public enum Durability: Sendable {
        /// `fdatasync` each chunk file: for chunks that arrive one by one.
        case eachFile
        /// One `syncfs` per commit, and no page cache filled: for imports of many chunks. Filling the page cache
        /// costs more CPU than the two hashes on a VM whose host reclaims freed memory (benchmarks/RESULTS.md,
        /// Import), and would push out as much cached data as the model is large; the mount reads the chunks
        /// from disk on first use instead.
        case batched
    }

    private struct Pending {
        var temporary: String
        var final: String
        var record: ChunkRecord
    }

    let store: Store
    let durability: Durability
    /// Whether whole 4 KiB blocks go past the page cache (`O_DIRECT`) where the caller's buffer is aligned.
    let pastPageCache: Bool
    private var pending: [Pending] = []
    private var pendingIDs = Set<ChunkID>()
    /// Chunks already stored that this batch met again: their last access is updated in one transaction.
    private var touched: [ChunkID] = []
    public private(set) var pendingBytes: UInt64 = 0
    private let encoder: ChunkEncoder

    /// `pastPageCache`: nil, past it where durability is batched.
    public init(store: Store, durability: Durability, pastPageCache: Bool? = nil) {
        self.store = store
        self.durability = durability
        self.pastPageCache = pastPageCache ?? (durability == .batched)
        encoder = ChunkEncoder(compression: store.configuration.compression)
    }

    deinit { discard() }

    /// Removes the chunks written and not yet committed.
    func discard() {
        for chunk in pending { unlink(chunk.temporary) }
        pending = []
        pendingIDs = []
        pendingBytes = 0
    }

    /// Writes the chunk unless the store or this batch already has it; returns the bytes it will take on
    /// disk (0 if already there). It is in the store only after `commit()`.
    @discardableResult
    public func add(_ id: ChunkID, bytes: UnsafeRawBufferPointer) throws -> UInt64 {
        try add(id, size: bytes.count) { file in
            try encoder.withEncoded(bytes) { encoding, stored in
                (encoding, UInt64(stored.count), try write(stored, to: file, at: 0))
            }
        }
    }

    /// `add` for a chunk of `size` bytes kept plain, copied into `buffer` (a multiple of 4 KiB, aligned for
    /// `O_DIRECT`) and written one buffer at a time: `fill(piece, offset)` copies the chunk's bytes from `offset`
    /// into `piece`. A buffer smaller than the chunk spares fresh memory (`DirectWriteBuffer`).
    func add(
        _ id: ChunkID, size: Int, through buffer: UnsafeMutableRawBufferPointer, fill: (UnsafeMutableRawBufferPointer, Int) throws -> Void
    ) throws -> UInt64 {
        try add(id, size: size) { file in
            var offset = 0
            var throughCache = false
            while offset < size {
                let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(buffer.count, size - offset)])
                try fill(piece, offset)
                throughCache = try write(UnsafeRawBufferPointer(piece), to: file, at: offset) || throughCache
                offset += piece.count
            }
            return (.plain, UInt64(size), throughCache)
        }
    }

    /// Creates the chunk's temporary file, has `write` fill it (returning the encoding, the bytes on disk and
    /// whether any went through the page cache), makes it durable as `durability` says and records it as pending.
    private func add(_ id: ChunkID, size: Int, write: (borrowing FileDescriptor) throws -> (ChunkEncoding, UInt64, Bool)) throws -> UInt64 {
        guard !pendingIDs.contains(id), !store.contains(id) else {
            met(id)
            return 0
        }
        let folder = store.chunkFolder(id)
        if !FileSystem.exists(folder) { try FileSystem.makeDirectories(folder) }
        let temporary = "\(folder)/\(Store.temporaryChunkPrefix)\(FileSystem.temporaryName())"
        let encoding: ChunkEncoding
        let stored: UInt64
        do {
            let file = try FileDescriptor.open(temporary, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o444)
            let throughCache: Bool
            (encoding, stored, throughCache) = try write(file)
            switch durability {
            case .eachFile: try file.syncData()
            case .batched: if throughCache { clinux_start_writeback(file.raw) }
            }
        } catch {
            unlink(temporary)
            throw error
        }
        let record = ChunkRecord(id: id, size: UInt64(size), storedSize: stored, compressed: encoding != .plain)
        pending.append(Pending(temporary: temporary, final: store.chunkPath(id, encoding: encoding), record: record))
        pendingIDs.insert(id)
        pendingBytes += stored
        return stored
    }

    /// Writes `bytes` at `offset`, whole 4 KiB blocks past the page cache where `pastPageCache`; returns
    /// whether any went through it.
    private func write(_ bytes: UnsafeRawBufferPointer, to file: borrowing FileDescriptor, at offset: Int) throws -> Bool {
        let direct = pastPageCache ? Self.writeDirect(bytes, to: file, at: offset) : 0
        try file.write(UnsafeRawBufferPointer(rebasing: bytes[direct...]), at: UInt64(offset + direct))
        return direct < bytes.count
    }

    /// Records that a chunk the store has was met again: its last access is updated at `commit`.
    public func met(_ id: ChunkID) {
        touched.append(id)
    }

    /// Writes the whole 4 KiB blocks of `bytes` past the page cache (`O_DIRECT`, from the caller's buffer when it
    /// is aligned), and returns how many bytes that was: 0 when it could not, and the caller writes them all.
    private static func writeDirect(_ bytes: UnsafeRawBufferPointer, to file: borrowing FileDescriptor, at offset: Int) -> Int {
        let blocks = bytes.count & ~4095
        guard blocks > 0, let base = bytes.baseAddress, Int(bitPattern: base) % 4096 == 0, clinux_set_direct(file.raw, 1) == 0 else { return 0 }
        defer { _ = clinux_set_direct(file.raw, 0) }
        do {
            try file.write(UnsafeRawBufferPointer(rebasing: bytes[..<blocks]), at: UInt64(offset))
            return blocks
        } catch {
            return 0
        }
    }

    /// Makes the written chunks durable, names them, and records them (and the last access of the chunks
    /// met again) in the database.
    public func commit() throws {
        try Self.commit([self])
    }

    /// Commits several batches with one `syncfs` for all, and records `met` as chunks met again.
    static func commit(_ batches: [ChunkWriteBatch], met: [ChunkID] = []) throws {
        guard let first = batches.first else { return }
        let touched = batches.flatMap(\.touched) + met
        if !touched.isEmpty { try first.store.database.touch(touched) }
        for batch in batches { batch.touched = [] }
        let syncs = batches.contains { $0.durability == .batched && !$0.pending.isEmpty }
        if syncs { try first.store.syncFileSystem() }
        for batch in batches { try batch.nameAndRecord() }
    }

    private func nameAndRecord() throws {
        guard !pending.isEmpty else { return }
        for chunk in pending {
            guard rename(chunk.temporary, chunk.final) == 0 else { throw StoreError.fromErrno(errno, path: chunk.final, operation: "rename") }
        }
        // Sealed after the rename, which changes the file's change time; every chunk here was hashed by its caller.
        let records = pending.map { chunk in
            var record = chunk.record
            record.seal = ChunkSeal(path: chunk.final)
            return record
        }
        pending = []
        pendingIDs = []
        pendingBytes = 0
        try store.database.recordChunks(records)
    }
}
