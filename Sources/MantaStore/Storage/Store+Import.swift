import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

public struct ImportProgress: Sendable {
    public var totalBytes: UInt64
    public var processedBytes: UInt64
    public var file: String
}

public struct ImportSummary: Sendable {
    public var reference: RepoReference
    public var digest: Digest
    public var manifest: Manifest
    public var chunksWritten: Int
    public var bytesWritten: UInt64
    public var chunksReused: Int
    public var warnings: [String]
}

extension Store {
    /// Imports every regular file below `directory` as `reference`: chunk, hash on all cores, store new
    /// chunks durably, then write the manifest, then the reference (pinned). A crash at any point leaves
    /// either the previous reference or the new one, never a reference to missing or partial data.
    public func importDirectory(
        _ directory: String,
        as reference: RepoReference,
        workers: Int = ProcessInfo.processInfo.activeProcessorCount,
        progress: @escaping @Sendable (ImportProgress) -> Void = { _ in }
    ) throws -> ImportSummary {
        let files = try ImportSource.regularFiles(below: directory)
        let total = files.reduce(0) { $0 + $1.size }
        let processed = Atomic<UInt64>(0)
        var entries: [Manifest.File] = []
        var warnings: [String] = []
        var written = 0, reused = 0
        var bytesWritten: UInt64 = 0
        var newChunks: [ChunkID] = []
        for file in files {
            let result = try importFile(file, workers: max(1, workers)) { bytes in
                let done = processed.add(bytes, ordering: .relaxed).newValue
                progress(ImportProgress(totalBytes: total, processedBytes: done, file: file.relativePath))
            }
            entries.append(result.entry)
            if let warning = result.warning {
                warnings.append("\(file.relativePath): \(warning)")
                logger.warning("falling back to fixed-size chunks", metadata: ["file": "\(file.relativePath)", "reason": "\(warning)"])
            }
            written += result.written.count
            reused += result.entry.chunks.count - result.written.count
            bytesWritten += result.bytesWritten
            newChunks += result.written
        }
        try syncChunkFolders(for: newChunks)
        let commit = Self.localCommit(entries)
        let manifest = Manifest(
            source: .init(kind: "local", repo: reference.repo, revision: reference.revision, commit: commit),
            chunkSize: configuration.chunkSize,
            files: entries
        )
        let digest = try put(manifest)
        try setReference(reference, to: digest, pinned: true)
        return ImportSummary(reference: reference, digest: digest, manifest: manifest, chunksWritten: written, bytesWritten: bytesWritten, chunksReused: reused, warnings: warnings)
    }

    /// A 40-hex commit id for a local import, derived from its contents like a git commit would be.
    static func localCommit(_ files: [Manifest.File]) -> String {
        var hasher = SHA256Hasher()
        for file in files.sorted(by: { $0.path < $1.path }) {
            hasher.update(Array("\(file.path)\0\(file.sha256.hex)\n".utf8))
        }
        return String(hasher.finalize().hex.prefix(40))
    }

    private struct FileResult: Sendable {
        var entry: Manifest.File
        var warning: String?
        var written: [ChunkID]
        var bytesWritten: UInt64
    }

    /// New chunks are made durable in batches of about this many bytes per lane.
    static let commitBatchBytes: UInt64 = 512 << 20

    /// Chunk lanes hash and store chunks in parallel while one more lane hashes the whole file in order.
    /// When the chunks turn out to be a file the store already knows (a re-import), its hash is known too
    /// and the whole-file lane stops early.
    private func importFile(_ file: ImportSource.File, workers: Int, advanced: @escaping @Sendable (UInt64) -> Void) throws -> FileResult {
        let descriptor = try FileDescriptor.open(file.absolutePath, flags: O_RDONLY)
        let size = try descriptor.size()
        let plan = try ChunkPlanner.plan(path: file.relativePath, fileSize: size, parameters: configuration.chunking) { length in
            try descriptor.read(count: length, at: 0)
        }
        let spans = plan.spans
        let path = file.absolutePath
        let nextSpan = Atomic<Int>(0)
        let results = Mutex<(ids: [ChunkID?], written: [ChunkID], bytes: UInt64)>((Array(repeating: nil, count: spans.count), [], 0))

        // Started by the first new chunk: while every chunk is one the store has, this is probably a re-import,
        // whose file hash the store knows, and the cores are better spent on the chunk lanes.
        let wholeFile = Mutex<WholeFileHash?>(nil)
        let startWholeFile = { @Sendable () -> WholeFileHash in
            wholeFile.withLock { running in
                if let running { return running }
                let started = WholeFileHash(path: path, size: size)
                running = started
                return started
            }
        }
        defer { wholeFile.withLock { $0 }?.cancelAndWait() }
        try WorkerThreads.run(count: min(workers, max(1, spans.count))) { [self] _, cancelled in
            let input = try FileDescriptor.open(path, flags: O_RDONLY)
            let batch = ChunkWriteBatch(store: self, durability: .batched)
            let capacity = Int(spans.map(\.length).max() ?? 0)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(capacity, 1), alignment: 4096)
            defer { buffer.deallocate() }
            var stored: [ChunkID] = []
            var storedBytes: UInt64 = 0
            while !cancelled.load(ordering: .relaxed) {
                let index = nextSpan.add(1, ordering: .relaxed).oldValue
                guard index < spans.count else { break }
                let span = spans[index]
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(span.length)])
                guard try input.read(into: chunk, at: span.offset) == chunk.count else {
                    throw StoreError.io(path: path, operation: "read (file shrank while importing)", errno: EIO)
                }
                let id = SHA256Hasher.hash(UnsafeRawBufferPointer(chunk))
                let bytes = try batch.add(id, bytes: UnsafeRawBufferPointer(chunk))
                if bytes > 0 {
                    stored.append(id)
                    storedBytes += bytes
                    if spans.count > 1 { _ = startWholeFile() }
                }
                if batch.pendingBytes >= Self.commitBatchBytes { try batch.commit() }
                results.withLock { $0.ids[index] = id }
                advanced(span.length)
            }
            try batch.commit()
            results.withLock {
                $0.written += stored
                $0.bytes += storedBytes
            }
        }
        let outcome = results.withLock { $0 }
        let chunks = zip(spans, outcome.ids.compactMap { $0 }).map { Manifest.Chunk(offset: $0.offset, length: $0.length, id: $1) }
        let fileHash: Digest
        if spans.count > 1 {
            if let known = try database.knownFileHash(size: size, chunks: chunks) {
                wholeFile.withLock { $0 }?.cancelAndWait()
                fileHash = known
            } else {
                fileHash = try startWholeFile().result()
            }
        } else {
            fileHash = chunks.first?.id ?? SHA256Hasher.hash([])
        }
        let entry = Manifest.File(path: file.relativePath, size: size, sha256: fileHash, scheme: plan.scheme, chunks: chunks)
        return FileResult(entry: entry, warning: plan.warning, written: outcome.written, bytesWritten: outcome.bytes)
    }

    static func hashWholeFile(_ input: borrowing FileDescriptor, size: UInt64, cancelled: borrowing Atomic<Bool>) throws -> Digest? {
        let blockSize = 1 << 20
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 4096)
        defer { block.deallocate() }
        var hasher = SHA256Hasher()
        var offset: UInt64 = 0
        while offset < size, !cancelled.load(ordering: .relaxed) {
            let count = try input.read(into: block, at: offset)
            guard count > 0 else { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: block[0..<count]))
            offset += UInt64(count)
        }
        return cancelled.load(ordering: .relaxed) ? nil : hasher.finalize()
    }
}

/// The files of a folder to import.
enum ImportSource {
    struct File: Sendable {
        var relativePath: String
        var absolutePath: String
        var size: UInt64
    }

    /// Folders that hold tool metadata, not repository content.
    static let skippedFolders: Set<String> = [".git", ".cache"]

    /// Every regular file below `directory` (links followed), sorted by path. Fails on anything else.
    static func regularFiles(below directory: String) throws -> [File] {
        switch FileSystem.kind(of: directory) {
        case .missing: throw StoreError.missingDirectory(directory)
        case .directory: break
        default: throw StoreError.notADirectory(directory)
        }
        var files: [File] = []
        var pending = [""]
        while let relative = pending.popLast() {
            let absolute = relative.isEmpty ? directory : "\(directory)/\(relative)"
            guard access(absolute, R_OK | X_OK) == 0 else { throw StoreError.fromErrno(errno, path: absolute, operation: "read folder") }
            for name in FileSystem.entries(of: absolute) {
                let childRelative = relative.isEmpty ? name : "\(relative)/\(name)"
                let childAbsolute = "\(absolute)/\(name)"
                switch FileSystem.kind(of: childAbsolute) {
                case .directory:
                    if !skippedFolders.contains(name) { pending.append(childRelative) }
                case .regular:
                    var info = stat()
                    stat(childAbsolute, &info)
                    files.append(File(relativePath: childRelative, absolutePath: childAbsolute, size: UInt64(info.st_size)))
                case .missing, .other:
                    throw StoreError.notARegularFile(childAbsolute)
                }
            }
        }
        return files.sorted { $0.relativePath < $1.relativePath }
    }
}

/// The SHA-256 of a whole file, computed in order on a thread of its own while the chunk lanes work.
final class WholeFileHash: Sendable {
    private let cancelled = Atomic<Bool>(false)
    private let outcome = Mutex<Result<Digest?, any Error>?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    init(path: String, size: UInt64) {
        let thread = Thread { [self] in
            let result = Result { () throws -> Digest? in
                let input = try FileDescriptor.open(path, flags: O_RDONLY)
                return try Store.hashWholeFile(input, size: size, cancelled: cancelled)
            }
            outcome.withLock { $0 = result }
            finished.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
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

    func cancelAndWait() {
        cancelled.store(true, ordering: .relaxed)
        finished.wait()
        finished.signal()
    }
}
