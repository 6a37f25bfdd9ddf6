import Logging
import MantaStore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Serves chunks from the node store. A chunk's bytes are served (from its open file, or decompressed into a small
/// cache) only once they are known to hash to its id: either its file still carries the seal the store recorded
/// when it checked them, or the mount hashes them on first touch (and seals the file). A chunk that fails the
/// check fails every read that needs it, and is logged. Chunk files are asked to be read ahead as soon as a
/// chunk is wanted, so that cold reads keep the disk busy.
public final class StoreChunkSource: ChunkSource {
    public typealias Completion = @Sendable (Result<ChunkData, ChunkSourceError>) -> Void

    private struct State {
        /// Plain chunk files this mount found sealed or hashed: reopened without looking again once their mapping is evicted.
        var checkedPlainFiles: Set<ChunkID> = []
        /// Costed in bytes: the pages of a mapping the mount has touched count towards its resident memory.
        var mappedFiles: LeastRecentlyUsed<ChunkID, ChunkFile>
        var decoded: LeastRecentlyUsed<ChunkID, DecodedChunk>
        var waiting: [ChunkID: [Completion]] = [:]
        var accessed: Set<ChunkID> = []
    }

    private enum Step {
        case ready(ChunkData)
        case reopen
        case wait
        case load
    }

    private let store: Store
    private let logger: Logger
    private let workers: BlockingWorkers
    private let state: Mutex<State>

    public init(store: Store, configuration: MountConfiguration = MountConfiguration(), logger: Logger = Logger(label: "manta.fs.chunks")) {
        self.store = store
        self.logger = logger
        workers = BlockingWorkers(count: configuration.verifierThreads, name: "manta-chunks")
        state = Mutex(State(
            mappedFiles: LeastRecentlyUsed(capacity: configuration.mappedChunkBytes),
            decoded: LeastRecentlyUsed(capacity: configuration.decodedCacheBytes)
        ))
    }

    /// Stops the verifier threads; chunks asked for afterwards are never answered.
    public func shutdown() {
        workers.stop()
    }

    public func chunk(_ request: ChunkRequest, completion: @escaping Completion) {
        let id = request.id
        let step: Step = state.withLock { state in
            state.accessed.insert(id)
            if let file = state.mappedFiles.value(for: id) { return .ready(.file(file)) }
            if let decoded = state.decoded.value(for: id) { return .ready(.memory(decoded)) }
            if state.waiting[id] != nil {
                state.waiting[id]?.append(completion)
                return .wait
            }
            if state.checkedPlainFiles.contains(id) { return .reopen }
            state.waiting[id] = [completion]
            return .load
        }
        switch step {
        case .ready(let data):
            completion(.success(data))
        case .wait:
            break
        case .reopen:
            // Verified earlier in this mount and its fd was closed: content-addressed files never change in place.
            completion(reopen(request))
        case .load:
            workers.submit(urgent: request.urgency == .read) { [self] in
                finish(request, with: load(request))
            }
        }
    }

    public func flushAccessLog() {
        let accessed = state.withLock { state in
            defer { state.accessed.removeAll() }
            return state.accessed
        }
        guard !accessed.isEmpty else { return }
        do {
            try store.touch(accessed)
        } catch {
            logger.warning("could not record chunk accesses", metadata: ["error": "\(error)"])
        }
    }

    private func finish(_ request: ChunkRequest, with result: Result<ChunkData, ChunkSourceError>) {
        let waiters = state.withLock { state in
            switch result {
            case .success(.file(let file)):
                state.checkedPlainFiles.insert(request.id)
                state.mappedFiles.insert(file, for: request.id, cost: Int(file.length))
            case .success(.memory(let decoded)):
                state.decoded.insert(decoded, for: request.id, cost: decoded.bytes.count)
            case .failure:
                break
            }
            return state.waiting.removeValue(forKey: request.id) ?? []
        }
        if case .failure(let error) = result {
            logger.error("cannot serve chunk", metadata: ["chunk": "\(request.id)", "file": "\(request.file)", "error": "\(error)"])
        }
        for waiter in waiters { waiter(result) }
    }

    private func reopen(_ request: ChunkRequest) -> Result<ChunkData, ChunkSourceError> {
        guard let location = store.location(of: request.id), location.encoding == .plain else {
            return .failure(.missing(chunk: request.id, file: request.file))
        }
        return map(request, path: location.path).map { mapped in
            state.withLock { $0.mappedFiles.insert(mapped.file, for: request.id, cost: Int(mapped.file.length)) }
            return .file(mapped.file)
        }
    }

    /// Opens and maps the chunk's file, and gives its seal as it is now. A file of the wrong size is corrupt, and is
    /// refused before any byte of the mapping is touched (past the end of a shorter file, that would fault).
    private func map(_ request: ChunkRequest, path: String) -> Result<(file: ChunkFile, seal: ChunkSeal), ChunkSourceError> {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return .failure(.unreadable(chunk: request.id, file: request.file, reason: "open \(path): \(String(cString: strerror(errno)))"))
        }
        guard let file = ChunkFile(descriptor: descriptor, length: request.length) else {
            return .failure(.unreadable(chunk: request.id, file: request.file, reason: "mmap \(path): \(String(cString: strerror(errno)))"))
        }
        guard let seal = ChunkSeal(descriptor: file.descriptor) else {
            return .failure(.unreadable(chunk: request.id, file: request.file, reason: "stat \(path): \(String(cString: strerror(errno)))"))
        }
        guard seal.size == request.length else { return .failure(.corrupt(chunk: request.id, file: request.file)) }
        return .success((file, seal))
    }

    /// Reads the chunk from disk and checks its hash; runs on a verifier thread.
    private func load(_ request: ChunkRequest) -> Result<ChunkData, ChunkSourceError> {
        guard let location = store.location(of: request.id) else {
            return .failure(.missing(chunk: request.id, file: request.file))
        }
        return location.encoding == .plain ? loadPlain(request, path: location.path) : loadEncoded(request, location: location)
    }

    private func loadPlain(_ request: ChunkRequest, path: String) -> Result<ChunkData, ChunkSourceError> {
        let file: ChunkFile, seal: ChunkSeal
        switch map(request, path: path) {
        case .success(let mapped): (file, seal) = mapped
        case .failure(let error): return .failure(error)
        }
        // Cold reads: the whole chunk is read from disk while the first reply is still being written.
        posix_fadvise(file.descriptor, 0, 0, POSIX_FADV_WILLNEED)
        guard check(request, seal: seal, hash: { SHA256Hasher.hash(file.bytes) }) else {
            return .failure(.corrupt(chunk: request.id, file: request.file))
        }
        return .success(.file(file))
    }

    /// Whether the chunk's bytes hash to its id: at once when its file still carries the store's seal, else by
    /// `hash`, sealing the file when they do.
    private func check(_ request: ChunkRequest, seal: ChunkSeal, hash: () -> ChunkID) -> Bool {
        if store.seal(of: request.id) == seal { return true }
        guard hash() == request.id else { return false }
        do {
            try store.recordSeals([(request.id, seal)])
        } catch {
            logger.debug("could not seal a checked chunk", metadata: ["chunk": "\(request.id)", "error": "\(error)"])
        }
        return true
    }

    private func loadEncoded(_ request: ChunkRequest, location: Store.ChunkLocation) -> Result<ChunkData, ChunkSourceError> {
        let stored: [UInt8]
        let seal: ChunkSeal?
        do {
            let file = try FileDescriptor.open(location.path, flags: O_RDONLY)
            seal = ChunkSeal(descriptor: file.raw)
            stored = try file.read(count: Int(try file.size()), at: 0)
        } catch {
            return .failure(.unreadable(chunk: request.id, file: request.file, reason: "\(error)"))
        }
        let bytes: [UInt8]
        do {
            bytes = try location.encoding.decode(stored, expectedSize: Int(request.length))
        } catch {
            logger.error("chunk file does not decode", metadata: ["chunk": "\(request.id)", "path": "\(location.path)", "error": "\(error)"])
            return .failure(.corrupt(chunk: request.id, file: request.file))
        }
        guard let seal, check(request, seal: seal, hash: { SHA256Hasher.hash(bytes) }) else {
            return .failure(.corrupt(chunk: request.id, file: request.file))
        }
        return .success(.memory(DecodedChunk(bytes: bytes)))
    }
}
