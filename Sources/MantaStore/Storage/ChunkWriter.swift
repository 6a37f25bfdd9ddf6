import Foundation
import Synchronization

/// A lane's chunk writes, on a thread of their own: the lane goes on hashing while a chunk's `O_DIRECT` write
/// waits for the disk, instead of the two taking turns. The writer owns the lane's `ChunkWriteBatch` and an
/// aligned buffer (`O_DIRECT` needs one); the lane copies a new chunk into it and goes on. One buffer is enough:
/// the disk is slower than the hashing, so a second would fill memory, not the disk's queue. Thread and buffer
/// start with the first new chunk, so a re-import has neither.
///
/// `@unchecked Sendable`: `write`, `met`, `finish` and `abandon` are called by the lane's thread only; the batch
/// is used by the writer's thread once it runs (by the lane's before), and the buffer by one side at a time,
/// handed over through `jobs` and `bufferFree`.
final class ChunkWriter: @unchecked Sendable {
    private enum Job {
        /// A chunk the store lacks, in the buffer.
        case write(ChunkID, length: Int)
        /// No more chunks: record the chunks met again, then commit the batch, or drop it when `commit` is false.
        case end(commit: Bool, met: [ChunkID])
    }

    private let batch: ChunkWriteBatch
    private let capacity: Int
    /// Set when the writer's thread starts.
    private var buffer: UnsafeMutableRawBufferPointer?
    private var metAgain: [ChunkID] = []
    private let bufferFree = DispatchSemaphore(value: 1)
    private let jobs = Mutex<[Job]>([])
    private let jobQueued = DispatchSemaphore(value: 0)
    private let ended = DispatchSemaphore(value: 0)
    private let outcome = Mutex<(stored: [ChunkID], bytes: UInt64, failure: (any Error)?)>(([], 0, nil))

    /// `capacity`: the largest chunk the lane will write.
    init(store: Store, capacity: Int) {
        batch = ChunkWriteBatch(store: store, durability: .batched)
        self.capacity = max(4096, (capacity + 4095) & ~4095)
    }

    deinit { buffer?.deallocate() }

    /// Queues a chunk the store lacks: `fill` copies its `length` bytes into the buffer, here on the caller's
    /// thread, once the previous chunk is written. Throws what `fill` throws, or an earlier write's failure.
    func write(_ id: ChunkID, length: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        let buffer = self.buffer ?? start()
        bufferFree.wait()
        if let failure = outcome.withLock({ $0.failure }) {
            bufferFree.signal()
            throw failure
        }
        do {
            try fill(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length]))
        } catch {
            bufferFree.signal()
            throw error
        }
        enqueue(.write(id, length: length))
    }

    /// Notes a chunk the store has, to record its last access at the end.
    func met(_ id: ChunkID) {
        metAgain.append(id)
    }

    /// Waits for the queued writes, commits them, and returns the chunks stored and their bytes on disk.
    func finish() throws -> (stored: [ChunkID], bytes: UInt64) {
        end(commit: true)
        let result = outcome.withLock { $0 }
        if let failure = result.failure { throw failure }
        return (result.stored, result.bytes)
    }

    /// Stops after the queued writes without committing them: their temporary files are removed.
    func abandon() {
        end(commit: false)
    }

    private func start() -> UnsafeMutableRawBufferPointer {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 4096)
        self.buffer = buffer
        let thread = Thread { [self] in
            while case .write(let id, let length) = nextJob() {
                defer { bufferFree.signal() }
                guard let buffer = self.buffer, outcome.withLock({ $0.failure == nil }) else { continue }
                record { try store(id, UnsafeRawBufferPointer(rebasing: buffer[0..<length])) }
            }
            ended.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
        return buffer
    }

    private func end(commit: Bool) {
        let met = metAgain
        metAgain = []
        guard buffer != nil else {
            finishBatch(commit: commit, met: met)
            return
        }
        enqueue(.end(commit: commit, met: met))
        ended.wait()
    }

    private func nextJob() -> Job {
        jobQueued.wait()
        let job = jobs.withLock { $0.removeFirst() }
        if case .end(let commit, let met) = job { finishBatch(commit: commit, met: met) }
        return job
    }

    private func enqueue(_ job: Job) {
        jobs.withLock { $0.append(job) }
        jobQueued.signal()
    }

    private func store(_ id: ChunkID, _ bytes: UnsafeRawBufferPointer) throws {
        let written = try batch.add(id, bytes: bytes)
        if written > 0 { outcome.withLock { $0.stored.append(id); $0.bytes += written } }
        if batch.pendingBytes >= Store.commitBatchBytes { try batch.commit() }
    }

    private func finishBatch(commit: Bool, met: [ChunkID]) {
        for id in met { batch.met(id) }
        if commit, outcome.withLock({ $0.failure == nil }) { record { try batch.commit() } }
    }

    private func record(_ body: () throws -> Void) {
        do {
            try body()
        } catch {
            outcome.withLock { if $0.failure == nil { $0.failure = error } }
        }
    }
}
