import Dispatch
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#endif

/// The whole-file SHA-256s an import needs for files the lanes hash chunk by chunk (files that looked stored,
/// then had new chunks; a new file's is computed in its one pass). Each is computed in order on a thread of its
/// own, beside the lanes, and at most `limit` at a time, so a model of many such shards never holds more than
/// `limit` mapped windows however far ahead the lanes run.
final class WholeFileHashes: Sendable {
    private let slots: DispatchSemaphore
    private let started = Mutex<[Int: WholeFileHash]>([:])

    init(limit: Int) {
        slots = DispatchSemaphore(value: limit)
    }

    /// Starts hashing the first `size` bytes of file `index`, at `path`, unless that already started.
    @discardableResult
    func start(_ index: Int, path: String, size: UInt64) -> WholeFileHash {
        started.withLock { started in
            if let hash = started[index] { return hash }
            let hash = WholeFileHash(path: path, size: size, slots: slots)
            started[index] = hash
            return hash
        }
    }

    /// The file's hash, started now if nothing needed it before; rethrows a read error.
    func result(_ index: Int, path: String, size: UInt64) throws -> Digest {
        try start(index, path: path, size: size).result()
    }

    /// Stops hashing file `index`: its hash turned out to be known.
    func cancel(_ index: Int) {
        started.withLock { $0[index] }?.cancelAndWait()
    }

    /// Stops every hash still running and waits for their threads.
    func cancelAll() {
        let hashes = started.withLock { Array($0.values) }
        for hash in hashes { hash.cancel() }
        for hash in hashes { hash.cancelAndWait() }
    }
}

/// The SHA-256 of one whole file, computed in order on a thread of its own once a slot is free.
final class WholeFileHash: Sendable {
    private let cancelled = Atomic<Bool>(false)
    private let outcome = Mutex<Result<Digest?, any Error>?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    /// A thread that cannot be started leaves its error as the hash's outcome.
    init(path: String, size: UInt64, slots: DispatchSemaphore) {
        let hash: @Sendable () -> Void = { [self] in
            slots.wait()
            let result = Result { () throws -> Digest? in
                guard !cancelled.load(ordering: .relaxed) else { return nil }
                let input = try FileDescriptor.open(path, flags: O_RDONLY)
                return try ChunkPairHasher.hashFile(input, path: path, size: size) { cancelled.load(ordering: .relaxed) }
            }
            slots.signal()
            finish(result)
        }
        do {
            try DetachedThread.start(hash)
        } catch {
            finish(.failure(error))
        }
    }

    private func finish(_ result: Result<Digest?, any Error>) {
        outcome.withLock { $0 = result }
        finished.signal()
    }

    /// Waits for the hash; rethrows a read error.
    func result() throws -> Digest {
        finished.wait()
        finished.signal()
        guard let digest = try outcome.withLock({ $0 })?.get() else {
            throw StoreError.io(path: "whole-file hash", operation: "finish", errno: ECANCELED)
        }
        return digest
    }

    func cancel() {
        cancelled.store(true, ordering: .relaxed)
    }

    func cancelAndWait() {
        cancel()
        finished.wait()
        finished.signal()
    }
}
