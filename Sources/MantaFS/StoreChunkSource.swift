import Logging
import MantaStore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Serves chunks from the node store. Each chunk is hashed the first time the mount touches it; only then are
/// its bytes served (from its open file, or decompressed into a small cache). A chunk that fails the check
/// fails every read that needs it, and is logged.
public final class StoreChunkSource: ChunkSource {
    public typealias Completion = @Sendable (Result<ChunkData, ChunkSourceError>) -> Void

    private struct State {
        var verifiedUncompressed: Set<ChunkID> = []
        var openFiles: LeastRecentlyUsed<ChunkID, ChunkFile>
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
            openFiles: LeastRecentlyUsed(capacity: configuration.openChunkFiles),
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
            if let file = state.openFiles.value(for: id) { return .ready(.file(file)) }
            if let decoded = state.decoded.value(for: id) { return .ready(.memory(decoded)) }
            if state.waiting[id] != nil {
                state.waiting[id]?.append(completion)
                return .wait
            }
            if state.verifiedUncompressed.contains(id) { return .reopen }
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
                state.verifiedUncompressed.insert(request.id)
                state.openFiles.insert(file, for: request.id)
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
        guard let location = store.location(of: request.id), !location.compressed else {
            return .failure(.missing(chunk: request.id, file: request.file))
        }
        let descriptor = open(location.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return .failure(.unreadable(chunk: request.id, file: request.file, reason: String(cString: strerror(errno))))
        }
        let file = ChunkFile(descriptor: descriptor, length: request.length)
        state.withLock { $0.openFiles.insert(file, for: request.id) }
        return .success(.file(file))
    }

    /// Reads the chunk from disk and checks its hash; runs on a verifier thread.
    private func load(_ request: ChunkRequest) -> Result<ChunkData, ChunkSourceError> {
        guard let location = store.location(of: request.id) else {
            return .failure(.missing(chunk: request.id, file: request.file))
        }
        return location.compressed ? loadCompressed(request, path: location.path) : loadPlain(request, path: location.path)
    }

    private func loadPlain(_ request: ChunkRequest, path: String) -> Result<ChunkData, ChunkSourceError> {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return .failure(.unreadable(chunk: request.id, file: request.file, reason: "open \(path): \(String(cString: strerror(errno)))"))
        }
        let file = ChunkFile(descriptor: descriptor, length: request.length)
        var information = stat()
        guard fstat(descriptor, &information) == 0 else {
            return .failure(.unreadable(chunk: request.id, file: request.file, reason: "stat \(path): \(String(cString: strerror(errno)))"))
        }
        guard UInt64(information.st_size) == request.length else { return .failure(.corrupt(chunk: request.id, file: request.file)) }
        // Hashing a mapping of the page cache avoids copying every chunk into a buffer first.
        guard let mapping = mmap(nil, Int(request.length), PROT_READ, MAP_SHARED | MAP_POPULATE, descriptor, 0), mapping != MAP_FAILED else {
            return .failure(.unreadable(chunk: request.id, file: request.file, reason: "mmap \(path): \(String(cString: strerror(errno)))"))
        }
        defer { munmap(mapping, Int(request.length)) }
        guard SHA256Hasher.hash(UnsafeRawBufferPointer(start: mapping, count: Int(request.length))) == request.id else {
            return .failure(.corrupt(chunk: request.id, file: request.file))
        }
        return .success(.file(file))
    }

    private func loadCompressed(_ request: ChunkRequest, path: String) -> Result<ChunkData, ChunkSourceError> {
        let compressed: [UInt8]
        do {
            compressed = try FileSystem.readAll(path)
        } catch {
            return .failure(.unreadable(chunk: request.id, file: request.file, reason: "\(error)"))
        }
        let bytes = compressed.withUnsafeBytes { input -> [UInt8]? in
            guard Zstd.frameContentSize(input) == Int(request.length) else { return nil }
            return try? Zstd.decompress(input, expectedSize: Int(request.length))
        }
        guard let bytes, SHA256Hasher.hash(bytes) == request.id else {
            return .failure(.corrupt(chunk: request.id, file: request.file))
        }
        return .success(.memory(DecodedChunk(bytes: bytes)))
    }
}
