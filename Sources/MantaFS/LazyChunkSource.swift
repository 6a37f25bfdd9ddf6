import Logging
import MantaStore
import MantaTransfer
import Synchronization

/// Serves the store's chunks, and fetches the chunks of registered models (`manta add`) on first read: a miss
/// fetches exactly that chunk's byte range through `fetcher` (from a task, never on the FUSE worker that asked),
/// and every read of the same missing chunk waits for that one fetch. A fetched chunk is hashed, answered and
/// stored, and journaled under the id it hashed to. The read that completes a file is answered only after the
/// whole file matched its SHA-256: on a match the file's ids become permanent (and once every file matched, a
/// manifest and reference replace the registration); on a mismatch its chunks are dropped and its reads fail.
public final class LazyChunkSource: ChunkSource {
    public typealias Completion = @Sendable (Result<ChunkData, ChunkSourceError>) -> Void

    private struct SpanKey: Hashable {
        let registration: Digest
        let fileIndex: Int
        let spanIndex: Int
    }

    private enum Fetch {
        /// Bytes are on their way; these readers wait for them.
        case waiting([Completion])
        /// Bytes arrived and were answered; they are being stored.
        case arrived(DecodedChunk)
    }

    private struct Model {
        let registration: Registration
        var progress: RegistrationProgress
        /// Files that failed their whole-file check in this mount: their reads fail.
        var failed: [Int: ChunkSourceError] = [:]
        /// Per file: chunks whose bytes arrived and are being stored.
        var arriving: [Int: Set<Int>] = [:]
        /// Per file: the chunk that arrived last, whose readers wait for the file's check.
        var heldBack: [Int: HeldChunk] = [:]
        var completed = false
    }

    private struct HeldChunk {
        let key: SpanKey
        let chunk: DecodedChunk
    }

    private struct State {
        var models: [Digest: Model] = [:]
        var fetches: [SpanKey: Fetch] = [:]
        /// Chunks of complete models fetched again after the store lost them, and who waits for each.
        var refetches: [ChunkID: [Completion]] = [:]
    }

    private enum Step {
        case stored(ChunkRequest)
        case failed(ChunkSourceError)
        case ready(DecodedChunk)
        case wait
        case fetch(Registration)
    }

    private let store: Store
    private let stored: StoreChunkSource
    private let fetcher: any SpanFetcher
    private let workers: BlockingWorkers
    private let logger: Logger
    private let state = Mutex(State())

    public init(
        store: Store, fetcher: any SpanFetcher, configuration: MountConfiguration = MountConfiguration(),
        logger: Logger = Logger(label: "manta.fs.lazy")
    ) {
        self.store = store
        self.fetcher = fetcher
        self.logger = logger
        stored = StoreChunkSource(store: store, configuration: configuration, logger: logger)
        workers = BlockingWorkers(count: configuration.verifierThreads, name: "manta-lazy")
    }

    /// Stops the worker threads; chunks asked for afterwards are never answered.
    public func shutdown() {
        workers.stop()
        stored.shutdown()
    }

    /// A chunk the store no longer has (it was quarantined because its file changed, or removed) is fetched
    /// again from the model's source, when the request names one.
    public func chunk(_ request: ChunkRequest, completion: @escaping Completion) {
        guard let origin = request.origin else { return stored.chunk(request, completion: completion) }
        stored.chunk(request) { [self] result in
            switch result {
            case .failure(.missing), .failure(.quarantined):
                if request.isPlausible { refetch(request, from: origin, completion) } else { completion(result) }
            default:
                completion(result)
            }
        }
    }

    /// Fetches the chunk's bytes from `origin` (one fetch for every reader that waits), serves them only if they
    /// hash to its id, and stores them.
    private func refetch(_ request: ChunkRequest, from origin: ChunkOrigin, _ completion: @escaping Completion) {
        let first = state.withLock { state in
            defer { state.refetches[request.id, default: []].append(completion) }
            return state.refetches[request.id] == nil
        }
        guard first else { return }
        logger.notice("fetching a chunk the store lost from the model's source", metadata: ["chunk": "\(request.id)", "file": "\(request.file)"])
        let span = ChunkSpan(offset: origin.offset, length: request.length)
        Task { [self] in
            do {
                try await fetcher.fetch([span], of: request.file, from: origin.source, priority: request.urgency == .read ? .read : .preheat) {
                    _, bytes in
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        self.workers.submit(urgent: request.urgency == .read) { [self] in
                            finishRefetch(request, with: storeRefetched(bytes, for: request, at: origin))
                            continuation.resume()
                        }
                    }
                }
            } catch {
                finishRefetch(request, with: .failure(.fetchFailed(file: request.file, offset: origin.offset, reason: "\(error)")))
            }
        }
    }

    /// Runs on a worker.
    private func storeRefetched(_ bytes: [UInt8], for request: ChunkRequest, at origin: ChunkOrigin) -> Result<ChunkData, ChunkSourceError> {
        guard SHA256Hasher.hash(bytes) == request.id else {
            return .failure(
                .fetchFailed(
                    file: request.file, offset: origin.offset,
                    reason:
                        "\(origin.source.repo) sent bytes that do not hash to chunk \(request.id): the file changed at the source; pull the model again"
                ))
        }
        do {
            try bytes.withUnsafeBytes { _ = try store.put(request.id, bytes: $0) }
        } catch {
            logger.warning(
                "a chunk fetched again could not be stored; it is served from memory", metadata: ["chunk": "\(request.id)", "error": "\(error)"])
        }
        return .success(.memory(DecodedChunk(bytes: bytes)))
    }

    private func finishRefetch(_ request: ChunkRequest, with result: Result<ChunkData, ChunkSourceError>) {
        let waiters = state.withLock { $0.refetches.removeValue(forKey: request.id) ?? [] }
        if case .failure(let error) = result {
            logger.error("a chunk the store lost could not be fetched again", metadata: ["chunk": "\(request.id)", "error": "\(error)"])
        }
        for waiter in waiters { waiter(result) }
    }

    public func flushAccessLog() {
        stored.flushAccessLog()
    }

    public func pendingChunk(_ request: PendingChunkRequest, completion: @escaping Completion) {
        let key = SpanKey(registration: request.registration, fileIndex: request.fileIndex, spanIndex: request.spanIndex)
        if state.withLock({ $0.models[key.registration] == nil }) {
            do {
                try load(request.registration)
            } catch {
                logger.error("cannot serve a registered model", metadata: ["file": "\(request.file)", "error": "\(error)"])
                return completion(.failure(.fetchFailed(file: request.file, offset: 0, reason: "\(error)")))
            }
        }
        let step: Step = state.withLock { state in
            guard let model = state.models[key.registration], model.registration.files.indices.contains(key.fileIndex),
                model.progress.ids[key.fileIndex].indices.contains(key.spanIndex)
            else { return .failed(.notFetchable(file: request.file)) }
            if let error = model.failed[key.fileIndex] { return .failed(error) }
            if let id = model.progress.ids[key.fileIndex][key.spanIndex] {
                let span = model.registration.files[key.fileIndex].spans[key.spanIndex]
                return .stored(ChunkRequest(id: id, length: span.length, file: request.file, urgency: request.urgency))
            }
            switch state.fetches[key] {
            case .arrived(let chunk):
                return .ready(chunk)
            case .waiting(var waiters):
                waiters.append(completion)
                state.fetches[key] = .waiting(waiters)
                return .wait
            case nil:
                state.fetches[key] = .waiting([completion])
                return .fetch(model.registration)
            }
        }
        switch step {
        case .stored(let chunkRequest): stored.chunk(chunkRequest, completion: completion)
        case .failed(let error): completion(.failure(error))
        case .ready(let chunk): completion(.success(.memory(chunk)))
        case .wait: break
        case .fetch(let registration): startFetch(key, registration: registration, urgency: request.urgency)
        }
    }

    /// Reads the registration and its journal (small files) the first time one of its chunks is asked for.
    private func load(_ digest: Digest) throws {
        let registration = try store.registration(digest)
        let progress = store.progress(of: digest, registration: registration)
        let first = state.withLock { state in
            guard state.models[digest] == nil else { return false }
            state.models[digest] = Model(registration: registration, progress: progress, completed: progress.isComplete)
            return true
        }
        // Every file was checked before a crash cut the completion short: finish it.
        if first, progress.isComplete {
            let ids = progress.ids.map { $0.compactMap { $0 } }
            workers.submit(urgent: false) { [self] in completeModel(digest, registration: registration, ids: ids) }
        }
    }

    private func startFetch(_ key: SpanKey, registration: Registration, urgency: ChunkRequest.Urgency) {
        let file = registration.files[key.fileIndex]
        let span = file.spans[key.spanIndex]
        Task { [self] in
            do {
                try await fetcher.fetch([span], of: file.path, from: registration.source, priority: urgency == .read ? .read : .preheat) { _, bytes in
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        self.workers.submit(urgent: urgency == .read) { [self] in
                            arrived(key, bytes: bytes)
                            continuation.resume()
                        }
                    }
                }
            } catch {
                let failure = ChunkSourceError.fetchFailed(file: file.path, offset: span.offset, reason: "\(error)")
                logger.error(
                    "a chunk of a registered model could not be fetched",
                    metadata: [
                        "model": "\(registration.reference)", "file": "\(file.path)", "offset": "\(span.offset)", "error": "\(error)",
                    ])
                finish(key, with: .failure(failure))
            }
        }
    }

    /// Hashes, answers and stores a fetched chunk. The chunk that arrives last for its file is answered only once
    /// the whole file was checked, so a reader of the whole file never succeeds on bytes that fail. Runs on a worker.
    private func arrived(_ key: SpanKey, bytes: [UInt8]) {
        let writing = store.beginWriting()
        defer { withExtendedLifetime(writing) {} }
        let id = SHA256Hasher.hash(bytes)
        let chunk = DecodedChunk(bytes: bytes)
        let heldBack = state.withLock { state -> Bool in
            guard var model = state.models[key.registration] else { return false }
            defer { state.models[key.registration] = model }
            model.arriving[key.fileIndex, default: []].insert(key.spanIndex)
            let ids = model.progress.ids[key.fileIndex]
            let outstanding = ids.indices.contains { ids[$0] == nil && model.arriving[key.fileIndex]?.contains($0) != true }
            guard !outstanding else { return false }
            model.heldBack[key.fileIndex] = HeldChunk(key: key, chunk: chunk)
            return true
        }
        if !heldBack { answer(key, with: chunk) }
        do {
            try bytes.withUnsafeBytes { _ = try store.put(id, bytes: $0) }
            try store.recordPendingChunk(id, file: key.fileIndex, span: key.spanIndex, of: key.registration)
        } catch {
            logger.error("a fetched chunk could not be stored", metadata: ["chunk": "\(id)", "error": "\(error)"])
            let failure = ChunkSourceError.unreadable(chunk: id, file: path(of: key), reason: "\(error)")
            let held = state.withLock { state -> HeldChunk? in
                state.models[key.registration]?.arriving[key.fileIndex]?.remove(key.spanIndex)
                return state.models[key.registration]?.heldBack.removeValue(forKey: key.fileIndex)
            }
            // The file cannot complete now: whoever waits for its check gets the failure too.
            if let held, held.key != key { finish(held.key, with: .failure(failure)) }
            return finish(key, with: .failure(failure))
        }
        let completion = state.withLock { state -> (ids: [ChunkID], held: HeldChunk?)? in
            state.models[key.registration]?.progress.ids[key.fileIndex][key.spanIndex] = id
            state.models[key.registration]?.arriving[key.fileIndex]?.remove(key.spanIndex)
            guard let ids = state.models[key.registration]?.progress.completeIDs(ofFile: key.fileIndex) else { return nil }
            return (ids, state.models[key.registration]?.heldBack.removeValue(forKey: key.fileIndex))
        }
        guard let completion else {
            if !heldBack { finish(key, with: .success(.memory(chunk))) }
            return
        }
        let outcome = checkFile(key, ids: completion.ids, writing: writing)
        if let held = completion.held { finish(held.key, with: outcome.map { .memory(held.chunk) }) }
        if completion.held?.key != key { finish(key, with: .success(.memory(chunk))) }
    }

    /// Checks a complete file against its SHA-256; on a mismatch drops its chunks. Completes the model when it was
    /// the last file. Runs on a worker.
    private func checkFile(_ key: SpanKey, ids: [ChunkID], writing: Store.WriteSession) -> Result<Void, ChunkSourceError> {
        guard let registration = state.withLock({ $0.models[key.registration]?.registration }) else { return .success(()) }
        let file = registration.files[key.fileIndex]
        let outcome: Result<Void, ChunkSourceError>
        do {
            var hasher = SHA256Hasher()
            for id in ids { hasher.update(try store.read(id, file: file.path, verify: false)) }
            let actual = hasher.finalize()
            if actual == file.sha256 {
                try store.recordFileVerified(key.fileIndex, of: key.registration)
                outcome = .success(())
            } else {
                try store.resetPendingFile(key.fileIndex, ids: ids, of: key.registration, by: writing)
                outcome = .failure(
                    .fileMismatch(
                        file: file.path,
                        reason:
                            "its bytes hash to \(actual.hex) but \(registration.source.repo) announced \(file.sha256.hex) (the file changed at the source or was corrupted in transit)"
                    ))
            }
        } catch {
            outcome = .failure(.fileMismatch(file: file.path, reason: "it could not be checked: \(error)"))
        }
        let complete: [[ChunkID]]? = state.withLock { state in
            guard var model = state.models[key.registration] else { return nil }
            defer { state.models[key.registration] = model }
            switch outcome {
            case .success:
                model.progress.verified.insert(key.fileIndex)
            case .failure(let error):
                model.failed[key.fileIndex] = error
                model.progress.ids[key.fileIndex] = model.progress.ids[key.fileIndex].map { _ in nil }
                return nil
            }
            guard model.progress.isComplete, !model.completed else { return nil }
            model.completed = true
            return model.progress.ids.map { $0.compactMap { $0 } }
        }
        if case .failure(let error) = outcome {
            logger.error(
                "a fetched file failed its check; its chunks were dropped",
                metadata: [
                    "model": "\(registration.reference)", "file": "\(file.path)", "error": "\(error)",
                ])
        } else {
            logger.info("a registered file is complete and checked", metadata: ["model": "\(registration.reference)", "file": "\(file.path)"])
        }
        if let complete { completeModel(key.registration, registration: registration, ids: complete) }
        return outcome
    }

    private func completeModel(_ digest: Digest, registration: Registration, ids: [[ChunkID]]) {
        do {
            let manifest = try store.completeRegistration(digest, ids: ids)
            logger.notice("a registered model is complete", metadata: ["model": "\(registration.reference)", "manifest": "\(manifest)"])
        } catch {
            logger.error(
                "a complete model could not be recorded; it stays registered",
                metadata: [
                    "model": "\(registration.reference)", "error": "\(error)",
                ])
        }
    }

    private func path(of key: SpanKey) -> String {
        state.withLock { $0.models[key.registration]?.registration.files[key.fileIndex].path } ?? "?"
    }

    /// Answers the waiting readers and keeps the bytes for later ones until the chunk is stored.
    private func answer(_ key: SpanKey, with chunk: DecodedChunk) {
        let waiters: [Completion] = state.withLock { state in
            guard case .waiting(let waiters) = state.fetches[key] else { return [] }
            state.fetches[key] = .arrived(chunk)
            return waiters
        }
        for waiter in waiters { waiter(.success(.memory(chunk))) }
    }

    /// Ends the fetch: answers whoever still waits.
    private func finish(_ key: SpanKey, with result: Result<ChunkData, ChunkSourceError>) {
        let waiters: [Completion] = state.withLock { state in
            defer { state.fetches[key] = nil }
            guard case .waiting(let waiters) = state.fetches[key] else { return [] }
            return waiters
        }
        for waiter in waiters { waiter(result) }
    }
}
