import CFuse
import Foundation
import Logging
import MantaStore
import MantaTransfer
import Synchronization

/// File-shaped copies of complete, uncompressed model files, which the kernel reads and maps directly (FUSE
/// passthrough) at the speed of the local disk with one page-cache copy. A copy is assembled in the background
/// from the file's verified chunks the first time the file is opened, and is named by the file's SHA-256, so
/// models sharing a file share its copy. On file systems with reflinks the copy shares the chunks' extents and
/// costs no disk; elsewhere it costs the file's size again (docs/architecture.md, "Mount").
///
/// A copy is trusted as long as it carries the seal (inode, size, change and modification times) it had when it
/// was written, and every chunk file it was built from still carries its seal of then: both are kept beside it in
/// `<sha256>.seal`. Any change to a file changes its change time, so a changed copy is rebuilt, and a changed,
/// quarantined or evicted chunk sends the file back to the chunk path (which checks the chunk again, fetches it
/// again where it can) until the copy is rebuilt from chunks that are good again: the store stays the truth.
final class PassthroughCopies: Sendable {
    /// The seals of a copy and of the chunk files it was built from, in the file's order.
    struct Record: Equatable {
        var copy: ChunkSeal
        var chunks: [ChunkSeal]
    }

    private struct State {
        var records: [Digest: Record] = [:]
        var building: Set<Digest> = []
        /// Files that cannot have a copy in this mount's life (compressed chunks, a chunk that failed).
        var refused: Set<Digest> = []
    }

    let directory: String
    private let store: Store
    private let source: any ChunkSource
    private let logger: Logger
    private let builder: BlockingWorkers
    private let state = Mutex(State())

    init(store: Store, source: any ChunkSource, logger: Logger) {
        directory = store.passthroughDirectory
        self.store = store
        self.source = source
        self.logger = logger
        builder = BlockingWorkers(count: 1, name: "manta-passthrough")
    }

    func shutdown() {
        builder.stop()
    }

    private func path(_ file: Manifest.File) -> String { "\(directory)/\(file.sha256.hex)" }

    /// An open descriptor of the file's complete copy, or nil when it has none that can be trusted now (then one
    /// is built, and later opens find it).
    func descriptor(for model: ModelFile) -> Int32? {
        let file = model.file
        guard file.size > 0, !state.withLock({ $0.building.contains(file.sha256) }) else { return nil }
        let descriptor = open(path(file), O_RDONLY | O_CLOEXEC)
        if descriptor >= 0 {
            let record = record(of: file)
            if let record, ChunkSeal(descriptor: descriptor) == record.copy, record.copy.size == file.size, chunksUnchanged(file, record) {
                return descriptor
            }
            close(descriptor)
            logger.info(
                "a passthrough copy or a chunk it was built from changed: the file is read through the mount while the copy is built again",
                metadata: [
                    "file": "\(file.path)", "copy": "\(path(file))",
                ])
            unlink(path(file))
            unlink("\(path(file)).seal")
            state.withLock { $0.records[file.sha256] = nil }
        } else if state.withLock({ $0.records.removeValue(forKey: file.sha256) }) != nil {
            // The store's quota deleted it (`Store.collectGarbage`), which it does only while no file is open on it.
            logger.info(
                "a passthrough copy was evicted to meet the quota: the file is read through the mount while the copy is built again",
                metadata: [
                    "file": "\(file.path)", "copy": "\(path(file))",
                ])
        }
        build(model)
        return nil
    }

    private func chunksUnchanged(_ file: Manifest.File, _ record: Record) -> Bool {
        zip(file.chunks, record.chunks).allSatisfy { chunk, seal in
            store.location(of: chunk.id).flatMap { ChunkSeal(path: $0.path) } == seal
        }
    }

    private func record(of file: Manifest.File) -> Record? {
        if let record = state.withLock({ $0.records[file.sha256] }) { return record }
        guard let text = try? String(contentsOfFile: "\(path(file)).seal", encoding: .utf8),
            let record = Record(recorded: text, chunkCount: file.chunks.count)
        else { return nil }
        state.withLock { $0.records[file.sha256] = record }
        return record
    }

    private func build(_ model: ModelFile) {
        let digest = model.file.sha256
        let start = state.withLock { state in
            guard !state.building.contains(digest), !state.refused.contains(digest) else { return false }
            state.building.insert(digest)
            return true
        }
        guard start else { return }
        builder.submit(urgent: false) { [self] in
            let result = Result { try assemble(model) }
            state.withLock { state in
                state.building.remove(digest)
                switch result {
                case .success(let record?): state.records[digest] = record
                case .success(nil), .failure: state.refused.insert(digest)
                }
            }
            if case .failure(let error) = result {
                logger.warning(
                    "could not build a passthrough copy: the file is read through the mount",
                    metadata: ["file": "\(model.file.path)", "error": "\(error)"])
            }
        }
    }

    /// Writes the copy next to its final name, then renames it into place; nil when the file's chunks are
    /// compressed (such files keep the chunk path).
    private func assemble(_ model: ModelFile) throws -> Record? {
        let file = model.file
        guard file.chunks.allSatisfy({ store.location(of: $0.id)?.encoding == .plain }) else { return nil }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = "\(path(file)).building-\(getpid())"
        let target = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o444)
        guard target >= 0 else { throw FuseDeviceError(operation: "create \(temporary)", code: errno) }
        var placed = false
        defer {
            close(target)
            if !placed { unlink(temporary) }
        }
        var shared: UInt64 = 0
        var chunkSeals: [ChunkSeal] = []
        for chunk in file.chunks {
            guard case .file(let chunkFile) = try verifiedChunk(chunk, of: model), let seal = ChunkSeal(descriptor: chunkFile.descriptor) else {
                return nil
            }
            chunkSeals.append(seal)
            if try place(chunkFile, at: chunk.offset, into: target) { shared += chunk.length }
        }
        guard fsync(target) == 0 else { throw FuseDeviceError(operation: "fsync \(temporary)", code: errno) }
        // The copy is read through the mount's passthrough from now on; its pages are not needed in the cache yet.
        posix_fadvise(target, 0, 0, POSIX_FADV_DONTNEED)
        guard rename(temporary, path(file)) == 0 else { throw FuseDeviceError(operation: "rename \(temporary)", code: errno) }
        placed = true
        let record: Record
        do {
            // Sealed after the rename, which changes the copy's change time. The seal's temporary file goes in the
            // store's own folder for them: `prune` deletes every name in this one it does not know.
            guard let seal = ChunkSeal(descriptor: target) else { throw FuseDeviceError(operation: "stat \(path(file))", code: errno) }
            record = Record(copy: seal, chunks: chunkSeals)
            try FileSystem.writeAtomically(
                Array(record.recordedText.utf8), to: "\(path(file)).seal", temporaryDirectory: store.temporaryDirectory, durable: false)
        } catch {
            // An unsealed copy is never served; left here, it would only take space.
            unlink(path(file))
            throw error
        }
        logger.info("built a passthrough copy", metadata: ["file": "\(file.path)", "bytes": "\(file.size)", "shared_extents_bytes": "\(shared)"])
        return record
    }

    private func verifiedChunk(_ chunk: Manifest.Chunk, of model: ModelFile) throws -> ChunkData {
        let answer = Mutex<Result<ChunkData, ChunkSourceError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let origin = ChunkOrigin(source: model.source, offset: chunk.offset)
        source.chunk(ChunkRequest(id: chunk.id, length: chunk.length, file: model.file.path, urgency: .prefetch, origin: origin)) { result in
            answer.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try answer.withLock { $0! }.get()
    }

    /// Places a chunk at its offset; true when its extents are shared rather than copied.
    private func place(_ chunk: ChunkFile, at offset: UInt64, into target: Int32) throws -> Bool {
        defer { posix_fadvise(chunk.descriptor, 0, 0, POSIX_FADV_DONTNEED) }
        let length = chunk.length
        if cfuse_reflink_range(target, chunk.descriptor, 0, length, offset) == 0 { return true }
        var done: UInt64 = 0
        while done < length {
            let copied = cfuse_copy_range(chunk.descriptor, Int64(done), target, Int64(offset + done), Int(length - done))
            guard copied > 0 else {
                // No copy_file_range across these files: write from the chunk's mapping.
                try write(UnsafeRawBufferPointer(rebasing: chunk.bytes[Int(done)...]), at: offset + done, into: target)
                return false
            }
            done += UInt64(copied)
        }
        return false
    }

    private func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, into target: Int32) throws {
        var done = 0
        while done < bytes.count {
            let written = pwrite(target, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            guard written > 0 else { throw FuseDeviceError(operation: "write a passthrough copy", code: errno) }
            done += written
        }
    }

    /// Removes the copies of files no mounted model has any more.
    func prune(keeping digests: Set<Digest>) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        let building = state.withLock { $0.building }
        for name in names {
            let hex = name.split(separator: ".").first.map(String.init) ?? name
            guard !digests.contains(where: { $0.hex == hex }), !building.contains(where: { $0.hex == hex }) else { continue }
            unlink("\(directory)/\(name)")
        }
    }
}

extension PassthroughCopies.Record {
    /// `<sha256>.seal`: the copy's seal, then one line per chunk file.
    var recordedText: String { ([copy] + chunks).map(\.recordedText).joined(separator: "\n") + "\n" }

    /// Nil unless the text holds a seal for the copy and one for each of `chunkCount` chunks.
    init?(recorded text: String, chunkCount: Int) {
        let seals = text.split(separator: "\n").map { ChunkSeal(recorded: $0) }
        guard seals.count == chunkCount + 1, let copy = seals[0] else { return nil }
        let chunks = seals.dropFirst().compactMap { $0 }
        guard chunks.count == chunkCount else { return nil }
        self.init(copy: copy, chunks: chunks)
    }
}

extension ChunkSeal {
    var recordedText: String { "\(inode):\(size):\(changeNanoseconds):\(modificationNanoseconds)" }

    init?(recorded text: Substring) {
        let fields = text.split(separator: ":")
        guard fields.count == 4, let inode = UInt64(fields[0]), let size = UInt64(fields[1]), let change = Int64(fields[2]),
            let modification = Int64(fields[3])
        else { return nil }
        var information = stat()
        information.st_ino = ino_t(inode)
        information.st_size = off_t(size)
        information.st_ctim = timespec(tv_sec: Int(change / 1_000_000_000), tv_nsec: Int(change % 1_000_000_000))
        information.st_mtim = timespec(tv_sec: Int(modification / 1_000_000_000), tv_nsec: Int(modification % 1_000_000_000))
        self.init(information)
    }
}
