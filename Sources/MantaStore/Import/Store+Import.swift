import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

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
    ///
    /// A new file of several chunks is one task, largest first: a lane hashes it once, in order, for its
    /// whole-file hash and its chunk ids together (`ChunkPairHasher.hashFile`). The chunks of the other files
    /// form one queue that the lanes share after those, so the small files fill the lanes at the end. Where pairing
    /// two hashes on one core saves little and the new files are fewer than the cores, each new file's hash is on a
    /// thread of its own from the start instead, and its chunks join the queue (`FileHashPlacement`).
    @discardableResult
    public func importDirectory(
        _ directory: String,
        as reference: RepoReference,
        workers: Int = ProcessInfo.processInfo.activeProcessorCount,
        progress: @escaping @Sendable (ImportProgress) -> Void = { _ in }
    ) throws -> ImportSummary {
        try importDirectory(directory, as: reference, workers: workers, placement: nil, progress: progress)
    }

    /// `placement`: where new files' whole-file hashes go, or nil for the one this CPU finishes first with.
    func importDirectory(
        _ directory: String,
        as reference: RepoReference,
        workers: Int = ProcessInfo.processInfo.activeProcessorCount,
        placement chosen: FileHashPlacement?,
        progress: @escaping @Sendable (ImportProgress) -> Void = { _ in }
    ) throws -> ImportSummary {
        // It counts on the chunks it finds stored until its manifest names them.
        let writing = beginWriting()
        defer { withExtendedLifetime(writing) {} }
        let lanes = max(1, workers)
        let plan = try planImport(of: directory, lanes: lanes, placement: chosen)
        let wholeFileHashes = WholeFileHashes(limit: lanes)
        defer { wholeFileHashes.cancelAll() }
        let (outcome, written) = try hashAndWrite(plan, lanes: lanes, wholeFileHashes: wholeFileHashes, progress: progress)
        let (files, warnings) = try manifestFiles(plan.files, outcome: outcome, wholeFileHashes: wholeFileHashes)
        return try commit(files, as: reference, written: written, warnings: warnings)
    }

    /// Step 1: every file's chunks, and which lanes hash what: the probably new files one pass each, largest first,
    /// then one queue of the other files' chunks.
    private func planImport(of directory: String, lanes: Int, placement chosen: FileHashPlacement?) throws -> ImportPlan {
        let sources = try ImportSource.regularFiles(below: directory)
        let largestFirst = sources.indices.sorted { sources[$0].size != sources[$1].size ? sources[$0].size > sources[$1].size : $0 < $1 }
        let files = try sources.map(plan)
        let looksNew = largestFirst.filter { files[$0].startsNew }
        let placement = chosen ?? FileHashPlacement.choose(sizes: looksNew.map { files[$0].size }, lanes: lanes)
        let queue = largestFirst.filter { placement == .ownThread || !files[$0].startsNew }.flatMap { file in
            files[file].plan.spans.indices.map { (file: file, span: $0) }
        }
        return ImportPlan(
            files: files, onePass: placement == .onePass ? looksNew : [], ownThread: placement == .ownThread ? looksNew : [], queue: queue)
    }

    /// Step 2: hashes every chunk on `lanes` threads and stores the new ones durably.
    private func hashAndWrite(
        _ plan: ImportPlan, lanes: Int, wholeFileHashes: WholeFileHashes, progress: @escaping @Sendable (ImportProgress) -> Void
    ) throws -> (ImportOutcome, written: (stored: [ChunkID], bytes: UInt64)) {
        let files = plan.files
        for index in plan.ownThread { wholeFileHashes.start(index, path: files[index].source.absolutePath, size: files[index].size) }
        let total = files.reduce(0) { $0 + $1.size }
        let capacity = files.flatMap(\.plan.spans).map(\.length).max() ?? 0
        let nextFile = Atomic<Int>(0)
        let nextTask = Atomic<Int>(0)
        let processed = Atomic<UInt64>(0)
        let outcome = Mutex<ImportOutcome>(ImportOutcome(files: files))

        let writer = ChunkWriter(store: self, capacity: Int(capacity), threads: lanes)
        do {
            try WorkerThreads.run(count: min(lanes, max(1, plan.onePass.count + (plan.queue.count + 1) / 2))) { [self] cancelled in
                func chunkDone(_ task: ImportTask, _ chunk: FileMapping, _ id: Digest) throws {
                    let file = files[task.file]
                    if contains(id) {
                        writer.met(id)
                    } else {
                        // While every chunk of a file is one the store has, this is probably a re-import, whose
                        // file hash the store knows, and the cores are better spent on the chunk lanes.
                        if file.plan.spans.count > 1, !file.startsNew {
                            wholeFileHashes.start(task.file, path: file.source.absolutePath, size: file.size)
                        }
                        try writer.write(id, from: chunk)
                    }
                    outcome.withLock { $0.ids[task.file][task.span] = id }
                    let done = processed.add(UInt64(chunk.bytes.count), ordering: .relaxed).newValue
                    progress(ImportProgress(totalBytes: total, processedBytes: done, file: file.source.relativePath))
                }
                while !cancelled.load(ordering: .relaxed) {
                    let next = nextFile.add(1, ordering: .relaxed).oldValue
                    guard next < plan.onePass.count else { break }
                    let index = plan.onePass[next]
                    let file = files[index]
                    let source = try FileDescriptor.open(file.source.absolutePath, flags: O_RDONLY)
                    let spans = file.plan.spans
                    let hash = try ChunkPairHasher.hashFile(size: file.size, segments: spans, chunkIDs: true) {
                        cancelled.load(ordering: .relaxed)
                    } load: { span, preceding in
                        try FileMapping(
                            source, path: file.source.absolutePath, offset: spans[span].offset, length: Int(spans[span].length), preceding: preceding)
                    } segmentDone: { span, chunk, id in
                        try chunkDone((index, span), chunk, id)
                    }
                    if let hash { outcome.withLock { $0.fileHashes[index] = hash } }
                }
                var input: OpenedInput?
                try ChunkPairHasher.hashAll(
                    next: { () throws -> (item: ImportTask, mapping: FileMapping)? in
                        guard !cancelled.load(ordering: .relaxed) else { return nil }
                        let index = nextTask.add(1, ordering: .relaxed).oldValue
                        guard index < plan.queue.count else { return nil }
                        let task = plan.queue[index]
                        let file = files[task.file]
                        let opened: OpenedInput
                        if let input, input.file == task.file {
                            opened = input
                        } else {
                            opened = OpenedInput(file: task.file, descriptor: try FileDescriptor.open(file.source.absolutePath, flags: O_RDONLY))
                            input = opened
                        }
                        let span = file.plan.spans[task.span]
                        return (
                            task, try FileMapping(opened.descriptor, path: file.source.absolutePath, offset: span.offset, length: Int(span.length))
                        )
                    }, done: chunkDone)
            }
        } catch {
            writer.abandon()
            throw error
        }
        let written = try writer.finish()
        return (outcome.withLock { $0 }, written)
    }

    /// Step 3: the manifest's entries, with each file's whole-file hash: hashed in the one pass, known to the
    /// store from an earlier import of the same chunks, or taken from its own thread.
    private func manifestFiles(
        _ files: [PlannedFile], outcome: ImportOutcome, wholeFileHashes: WholeFileHashes
    ) throws -> (files: [Manifest.File], warnings: [String]) {
        var entries: [Manifest.File] = []
        var warnings: [String] = []
        for (index, file) in files.enumerated() {
            let chunks = zip(file.plan.spans, outcome.ids[index].compactMap { $0 }).map {
                Manifest.Chunk(offset: $0.offset, length: $0.length, id: $1)
            }
            let fileHash: Digest
            if let hashed = outcome.fileHashes[index] {
                fileHash = hashed
            } else if chunks.count > 1 {
                if let known = try database.knownFileHash(size: file.size, chunks: chunks) {
                    wholeFileHashes.cancel(index)
                    fileHash = known
                } else {
                    fileHash = try wholeFileHashes.result(index, path: file.source.absolutePath, size: file.size)
                }
            } else {
                fileHash = chunks.first?.id ?? SHA256Hasher.hash([])
            }
            entries.append(Manifest.File(path: file.source.relativePath, size: file.size, sha256: fileHash, scheme: file.plan.scheme, chunks: chunks))
            if let warning = file.plan.warning {
                warnings.append("\(file.source.relativePath): \(warning)")
                logger.warning("falling back to fixed-size chunks", metadata: ["file": "\(file.source.relativePath)", "reason": "\(warning)"])
            }
        }
        return (entries, warnings)
    }

    /// Step 4: the manifest, then the reference. One journal commit makes the chunks' names, the new manifest and
    /// the reference's new content (and its folders) durable, before the reference is renamed into place.
    private func commit(
        _ files: [Manifest.File], as reference: RepoReference, written: (stored: [ChunkID], bytes: UInt64), warnings: [String]
    ) throws -> ImportSummary {
        let manifest = Manifest(
            source: .init(kind: "local", repo: reference.repo, revision: reference.revision, commit: Self.localCommit(files)),
            chunkSize: configuration.chunkSize,
            files: files
        )
        let (digest, manifestIsNew) = try put(manifest, durable: false)
        try setReference(reference, to: digest, pinned: true) { [self] changes in
            if changes || !written.stored.isEmpty || manifestIsNew { try syncFileSystem() }
        }
        return ImportSummary(
            reference: reference, digest: digest, manifest: manifest, chunksWritten: written.stored.count, bytesWritten: written.bytes,
            chunksReused: manifest.files.reduce(0) { $0 + $1.chunks.count } - written.stored.count, warnings: warnings)
    }

    /// A 40-hex commit id for a local import, derived from its contents like a git commit would be.
    static func localCommit(_ files: [Manifest.File]) -> String {
        var hasher = SHA256Hasher()
        for file in files.sorted(by: { $0.path < $1.path }) {
            hasher.update(Array("\(file.path)\0\(file.sha256.hex)\n".utf8))
        }
        return String(hasher.finalize().hex.prefix(40))
    }

    /// New chunks are made durable in batches of about this many bytes per lane.
    static let commitBatchBytes: UInt64 = 512 << 20

    /// A chunk to import: span `span` of file `file`.
    private typealias ImportTask = (file: Int, span: Int)

    /// What `planImport` decided: the files, the probably new ones hashed in one pass each (`onePass`) or with
    /// their whole-file hash on a thread of its own (`ownThread`), and the chunks the lanes share.
    private struct ImportPlan {
        var files: [PlannedFile]
        var onePass: [Int]
        var ownThread: [Int]
        var queue: [ImportTask]
    }

    /// What the lanes found: each file's chunk ids, and the whole-file hashes of the files hashed in one pass.
    private struct ImportOutcome {
        var ids: [[ChunkID?]]
        var fileHashes: [Int: Digest] = [:]

        init(files: [PlannedFile]) {
            ids = files.map { Array(repeating: nil, count: $0.plan.spans.count) }
        }
    }

    private struct PlannedFile: Sendable {
        var source: ImportSource.File
        var size: UInt64
        var plan: ChunkPlan
        /// The file has more than one chunk, its chunks tile it, and the store lacks its first: it is probably new,
        /// so it is hashed in one pass for its whole-file hash and its chunk ids.
        var startsNew: Bool
    }

    /// The file a lane is mapping chunks of, kept open while its next chunks come from it.
    private final class OpenedInput {
        let file: Int
        let descriptor: FileDescriptor

        init(file: Int, descriptor: consuming FileDescriptor) {
            self.file = file
            self.descriptor = descriptor
        }
    }

    private func plan(_ file: ImportSource.File) throws -> PlannedFile {
        let descriptor = try FileDescriptor.open(file.absolutePath, flags: O_RDONLY)
        let size = try descriptor.size()
        var prefix: [UInt8] = []
        let plan = try ChunkPlanner.plan(path: file.relativePath, fileSize: size, parameters: configuration.chunking) { length in
            prefix = try descriptor.read(count: length, at: 0)
            return prefix
        }
        var startsNew = false
        if plan.spans.count > 1, let first = plan.spans.first, plan.tiles(size) {
            // A fixed-block file's header was not read: its first block is hashed where it lies, so a new file of
            // any format gets the one pass instead of a whole-file hash beside its chunks' (twice the CPU).
            let firstID =
                first.end <= UInt64(prefix.count)
                ? prefix.withUnsafeBytes { SHA256Hasher.hash(UnsafeRawBufferPointer(rebasing: $0[Int(first.offset)..<Int(first.end)])) }
                : try ChunkPairHasher.hash(FileMapping(descriptor, path: file.absolutePath, offset: first.offset, length: Int(first.length)))
            startsNew = !contains(firstID)
        }
        return PlannedFile(source: file, size: size, plan: plan, startsNew: startsNew)
    }
}
