import Dispatch
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An import's chunk writes, on threads of their own that every lane hands new chunks to: the lanes go on
/// hashing while a chunk is copied from its mapping into an aligned buffer (`O_DIRECT` needs one) and written.
/// With a thread per core the disk always has a write queued, even when one lane makes all the new chunks (a
/// large new file is hashed in one pass), and no copy or file creation leaves it idle between two writes. A
/// store that keeps chunks plain copies and writes each 1 MiB at a time, so each thread's buffer is a quarter of
/// a chunk of fresh memory, whose first touch costs the VMs here more than copying it (`DirectWriteBuffer`); one that
/// compresses needs the whole chunk in its buffer. At most two chunks per thread are mapped, the one it writes
/// and one waiting for it. Threads and buffers start with the first new chunk, so a re-import has neither.
///
/// `write` and `met` may be called from any lane; `finish` or `abandon` once, after the lanes stopped.
final class ChunkWriter: Sendable {
    private enum Job {
        /// A chunk the store lacks: its id and its bytes, mapped.
        case write(ChunkID, FileMapping)
        /// No more chunks: the thread stops.
        case end
    }

    private struct State {
        var started = false
        /// The writer threads running: fewer than asked for when the system would not start them all.
        var running = 0
        /// Ids already handed over in this import, so a chunk that recurs is written once.
        var claimed = Set<ChunkID>()
        var metAgain: [ChunkID] = []
        var stored: [ChunkID] = []
        var bytes: UInt64 = 0
        var failure: (any Error)?
    }

    private let store: Store
    private let capacity: Int
    /// The store keeps chunks plain, so they are copied and written a piece at a time.
    private let piecewise: Bool
    /// One batch per thread: a batch (and its encoder) is used by one thread at a time.
    private let batches: [ThreadBatch]
    private let state = Mutex(State())
    /// Two permits per thread: taken by a chunk handed over, given back once a thread wrote it.
    private let handover: DispatchSemaphore
    private let jobs = Mutex<[Job]>([])
    private let jobQueued = DispatchSemaphore(value: 0)
    private let ended = DispatchSemaphore(value: 0)

    /// `capacity`: the largest chunk that will be written.
    init(store: Store, capacity: Int, threads: Int) {
        self.store = store
        self.capacity = capacity
        piecewise = store.configuration.compression == .none
        let threads = max(1, threads)
        batches = (0..<threads).map { _ in ThreadBatch(ChunkWriteBatch(store: store, durability: .batched)) }
        handover = DispatchSemaphore(value: 2 * threads)
    }

    /// Queues a chunk the store lacks, whose bytes are `chunk`'s, once a thread is free to take it.
    /// Throws an earlier chunk's failure: its copy's (the file shrank) or its write's.
    func write(_ id: ChunkID, from chunk: FileMapping) throws {
        let (first, startsThreads) = state.withLock { state in
            defer { state.started = true }
            return (state.claimed.insert(id).inserted, !state.started)
        }
        guard first else { return met(id) }
        if startsThreads { start() }
        handover.wait()
        if let failure = state.withLock({ $0.failure }) {
            handover.signal()
            throw failure
        }
        enqueue(.write(id, chunk))
    }

    /// Notes a chunk the store has, to record its last access at the end.
    func met(_ id: ChunkID) {
        state.withLock { $0.metAgain.append(id) }
    }

    /// Waits for the queued writes, commits them (one `syncfs` for all), and returns the chunks stored and their
    /// bytes on disk.
    func finish() throws -> (stored: [ChunkID], bytes: UInt64) {
        stopThreads()
        let result = state.withLock { $0 }
        do {
            if let failure = result.failure { throw failure }
            try ChunkWriteBatch.commit(batches.map(\.batch), met: result.metAgain)
        } catch {
            discard()
            throw error
        }
        return (result.stored, result.bytes)
    }

    /// Stops after the queued writes without committing them: their temporary files are removed.
    func abandon() {
        stopThreads()
        discard()
    }

    /// Removes the chunks written and not named, here rather than when the batches go: a failed command exits
    /// as soon as it has reported the error.
    private func discard() {
        for batch in batches { batch.batch.discard() }
    }

    /// Starts the writer threads, as many as the system allows; with none, the import fails with its error.
    private func start() {
        var running = 0
        do {
            for batch in batches {
                try DetachedThread.start { [self] in
                    let buffer = DirectWriteBuffer(piecewise ? min(capacity, Self.pieceBytes) : capacity)
                    while let (id, chunk) = nextChunk() {
                        record { try store(id, chunk, through: buffer.chunk, in: batch.batch) }
                        handover.signal()
                    }
                    ended.signal()
                }
                running += 1
            }
        } catch {
            if running == 0 { record { throw error } }
        }
        state.withLock { $0.running = running }
    }

    private func stopThreads() {
        let running = state.withLock { $0.running }
        for _ in 0..<running { enqueue(.end) }
        for _ in 0..<running { ended.wait() }
    }

    /// The next chunk to write, or nil at the end. After a failure the chunks still handed over are dropped.
    private func nextChunk() -> (ChunkID, FileMapping)? {
        while true {
            jobQueued.wait()
            guard case .write(let id, let chunk) = jobs.withLock({ $0.removeFirst() }) else { return nil }
            guard state.withLock({ $0.failure == nil }) else {
                handover.signal()
                continue
            }
            return (id, chunk)
        }
    }

    /// Large enough that each `O_DIRECT` write still keeps the disk busy, a quarter of a 4 MiB chunk.
    static let pieceBytes = 1 << 20

    private func enqueue(_ job: Job) {
        jobs.withLock { $0.append(job) }
        jobQueued.signal()
    }

    /// Writes `chunk` through `buffer`: a piece at a time where the store keeps chunks plain, else whole, for
    /// its encoder. `copy` fails for a file that shrank.
    private func store(_ id: ChunkID, _ chunk: FileMapping, through buffer: UnsafeMutableRawBufferPointer, in batch: ChunkWriteBatch) throws {
        let written: UInt64
        if piecewise {
            written = try batch.add(id, size: chunk.bytes.count, through: buffer) { piece, offset in try chunk.copy(into: piece, from: offset) }
        } else {
            let bytes = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<chunk.bytes.count])
            try chunk.copy(into: bytes)
            written = try batch.add(id, bytes: UnsafeRawBufferPointer(bytes))
        }
        if written > 0 {
            state.withLock {
                $0.stored.append(id)
                $0.bytes += written
            }
        }
        if batch.pendingBytes >= Store.commitBatchBytes { try batch.commit() }
    }

    /// `@unchecked Sendable`: used by its thread, then by `finish` once that thread ended.
    private final class ThreadBatch: @unchecked Sendable {
        let batch: ChunkWriteBatch

        init(_ batch: ChunkWriteBatch) {
            self.batch = batch
        }
    }

    private func record(_ body: () throws -> Void) {
        do {
            try body()
        } catch {
            state.withLock { if $0.failure == nil { $0.failure = error } }
        }
    }
}
