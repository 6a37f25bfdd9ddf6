import Logging
import MantaStore
import MantaTransfer
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Serves chunks from the node store. A chunk's bytes are served (from its open file, or decompressed into a small
/// cache) only once they are known to hash to its id: either its file still carries the seal the store recorded
/// when it checked them, or the mount hashes them on first touch (and seals the file). The seal is looked at
/// again every time the file is mapped, and before every read served from a mapping (a mapping shows writes to
/// its file), so a file changed after it was checked is hashed again before another byte of it is served. A
/// chunk whose bytes do not hash to its id is quarantined and fails every read that needs it, and is logged.
/// Chunk files are asked to be read ahead as soon as a chunk is wanted, so that cold reads keep the disk busy.
public final class StoreChunkSource: ChunkSource {
    public typealias Completion = @Sendable (Result<ChunkData, ChunkSourceError>) -> Void

    /// A mapped chunk file and its seal when its bytes were checked.
    private struct CheckedFile {
        let file: ChunkFile
        let seal: ChunkSeal

        /// Whether the file is as it was when checked: one `fstat`, cheap beside the reply it guards.
        var isUnchanged: Bool { ChunkSeal(descriptor: file.descriptor) == seal }
    }

    private struct State {
        /// Plain chunk files this mount found sealed or hashed, with their seals then: reopened without hashing
        /// once their mapping is evicted, as long as the file still carries that seal.
        var checkedSeals: [ChunkID: ChunkSeal] = [:]
        /// Costed in bytes: the pages of a mapping the mount has touched count towards its resident memory.
        var mappedFiles: LeastRecentlyUsed<ChunkID, CheckedFile>
        var decoded: LeastRecentlyUsed<ChunkID, DecodedChunk>
        var waiting: [ChunkID: [Completion]] = [:]
        var accessed: [ChunkID: Int64] = [:]

        /// Queues `completion` behind a load of `id`, starting one if none runs.
        mutating func awaitLoad(of id: ChunkID, _ completion: @escaping Completion) -> Step {
            if waiting[id] != nil {
                waiting[id]?.append(completion)
                return .wait
            }
            waiting[id] = [completion]
            return .load
        }
    }

    private enum Step {
        case ready(ChunkData)
        case mapped(CheckedFile)
        case reopen(ChunkSeal)
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
        state = Mutex(
            State(
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
        // Stamped now, not when the log is flushed: reads a second apart must keep their order for eviction.
        let now = Store.accessTime()
        let step: Step = state.withLock { state in
            state.accessed[id] = now
            if let checked = state.mappedFiles.value(for: id) { return .mapped(checked) }
            if let decoded = state.decoded.value(for: id) { return .ready(.memory(decoded)) }
            if state.waiting[id] == nil, let seal = state.checkedSeals[id] { return .reopen(seal) }
            return state.awaitLoad(of: id, completion)
        }
        switch step {
        case .ready(let data):
            completion(.success(data))
        case .mapped(let checked):
            if checked.isUnchanged { completion(.success(.file(checked.file))) } else { checkAgain(request, completion) }
        case .reopen(let seal):
            if let reopened = reopen(request, expecting: seal) { completion(reopened) } else { checkAgain(request, completion) }
        case .wait:
            break
        case .load:
            startLoad(request)
        }
    }

    private func startLoad(_ request: ChunkRequest) {
        workers.submit(urgent: request.urgency == .read) { [self] in
            finish(request, with: load(request))
        }
    }

    /// The chunk's file no longer carries the seal it had when this mount checked it: forgets the check and loads
    /// it again, which serves it only if its seal is the store's or its bytes still hash to its id.
    private func checkAgain(_ request: ChunkRequest, _ completion: @escaping Completion) {
        logger.warning(
            "a chunk file changed since it was checked; hashing it again before serving it",
            metadata: [
                "chunk": "\(request.id)", "file": "\(request.file)",
            ])
        let step = state.withLock { state in
            state.mappedFiles.removeValue(for: request.id)
            state.checkedSeals[request.id] = nil
            return state.awaitLoad(of: request.id, completion)
        }
        if case .load = step { startLoad(request) }
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

    /// A chunk loaded and checked on a verifier thread.
    private enum Loaded {
        case file(CheckedFile)
        case memory(DecodedChunk)

        var data: ChunkData {
            switch self {
            case .file(let checked): .file(checked.file)
            case .memory(let decoded): .memory(decoded)
            }
        }
    }

    private func finish(_ request: ChunkRequest, with result: Result<Loaded, ChunkSourceError>) {
        let waiters = state.withLock { state in
            switch result {
            case .success(.file(let checked)):
                state.checkedSeals[request.id] = checked.seal
                state.mappedFiles.insert(checked, for: request.id, cost: Int(checked.file.length))
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
        let answer = result.map(\.data)
        for waiter in waiters { waiter(answer) }
    }

    /// Maps the chunk's file again without hashing it, when it still carries the seal it had when this mount
    /// checked it; nil when it does not (then it must be checked again).
    private func reopen(_ request: ChunkRequest, expecting seal: ChunkSeal) -> Result<ChunkData, ChunkSourceError>? {
        guard let location = store.location(of: request.id), location.encoding == .plain else {
            return .failure(.missing(chunk: request.id, file: request.file))
        }
        switch map(request, path: location.path) {
        case .failure(let error):
            return .failure(error)
        case .success(let checked):
            guard checked.seal == seal else { return nil }
            state.withLock { $0.mappedFiles.insert(checked, for: request.id, cost: Int(checked.file.length)) }
            return .success(.file(checked.file))
        }
    }

    /// Opens and maps the chunk's file, with its seal as it is now. A file of the wrong size is corrupt, and is
    /// refused before any byte of the mapping is touched (past the end of a shorter file, that would fault).
    private func map(_ request: ChunkRequest, path: String) -> Result<CheckedFile, ChunkSourceError> {
        guard request.isPlausible else { return .failure(.corrupt(chunk: request.id, file: request.file)) }
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
        return .success(CheckedFile(file: file, seal: seal))
    }

    /// Reads the chunk from disk and checks its hash; runs on a verifier thread.
    private func load(_ request: ChunkRequest) -> Result<Loaded, ChunkSourceError> {
        guard let location = store.location(of: request.id) else {
            return .failure(.missing(chunk: request.id, file: request.file))
        }
        return location.encoding == .plain ? loadPlain(request, path: location.path) : loadEncoded(request, location: location)
    }

    private func loadPlain(_ request: ChunkRequest, path: String) -> Result<Loaded, ChunkSourceError> {
        let checked: CheckedFile
        switch map(request, path: path) {
        case .success(let mapped): checked = mapped
        case .failure(let error): return .failure(error)
        }
        // Cold reads: the whole chunk is read from disk while the first reply is still being written.
        posix_fadvise(checked.file.descriptor, 0, 0, POSIX_FADV_WILLNEED)
        guard check(request, seal: checked.seal, hash: { SHA256Hasher.hash(checked.file.bytes) }) else {
            return .failure(quarantine(request))
        }
        return .success(.file(checked))
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

    /// Moves a chunk whose bytes do not hash to its id out of the store, so that no later read (here, through a
    /// peer or after a restart) finds it and a pull fetches it again; the error that fails the read.
    private func quarantine(_ request: ChunkRequest) -> ChunkSourceError {
        do {
            try store.quarantineChunk(request.id)
            return .quarantined(chunk: request.id, file: request.file)
        } catch {
            logger.error("could not quarantine a corrupt chunk", metadata: ["chunk": "\(request.id)", "error": "\(error)"])
            return .corrupt(chunk: request.id, file: request.file)
        }
    }

    private func loadEncoded(_ request: ChunkRequest, location: Store.ChunkLocation) -> Result<Loaded, ChunkSourceError> {
        guard request.isPlausible else { return .failure(.corrupt(chunk: request.id, file: request.file)) }
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
        guard let seal else { return .failure(.unreadable(chunk: request.id, file: request.file, reason: "stat \(location.path) failed")) }
        guard check(request, seal: seal, hash: { SHA256Hasher.hash(bytes) }) else { return .failure(quarantine(request)) }
        return .success(.memory(DecodedChunk(bytes: bytes)))
    }
}

extension ChunkRequest {
    /// A length no chunk can have comes from a bad manifest: refused before it sizes a mapping or a buffer.
    var isPlausible: Bool { length <= UInt64(ChunkEncoding.maximumChunkSize) }
}
