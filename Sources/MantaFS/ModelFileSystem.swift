import Logging
import MantaStore
import MantaTransfer
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The mounted tree and its read path, independent of how requests arrive. Every method may be called from
/// any libfuse worker thread at once.
public final class ModelFileSystem: Sendable {
    /// A slice of one chunk that a read returns.
    struct ReadSlice: Sendable {
        let data: ChunkData
        let offset: UInt64
        let count: Int
    }

    struct Entry {
        let inode: UInt64
        let attributes: stat
        let entryTimeout: Double
        let attributeTimeout: Double
    }

    private struct ScanState {
        var signature: [String]?
        var manifests: [Digest: Manifest] = [:]
        var registrations: [Digest: Registration] = [:]
    }

    let configuration: MountConfiguration
    let source: any ChunkSource
    let pins: OpenPins
    let notifier = InvalidationNotifier()
    /// What a next server of this mount's kernel connection needs (`MountHandover`).
    let journal = MountJournalRecorder()
    private let store: Store
    private let logger: Logger
    private let table = Mutex(InodeTable())
    private let scan = Mutex(ScanState())
    /// Told the file digests of the complete models each time the mounted models change (the passthrough copies
    /// of files no model has any more are removed then, so eviction frees their disk too).
    private let modelsChangedHandler = Mutex<(@Sendable (Set<Digest>) -> Void)?>(nil)
    private let owner: (uid: uid_t, gid: gid_t)
    private let creationTime: timespec

    public init(
        store: Store, source: any ChunkSource, configuration: MountConfiguration = MountConfiguration(), logger: Logger = Logger(label: "manta.fs")
    ) {
        self.store = store
        self.source = source
        self.configuration = configuration
        self.logger = logger
        pins = OpenPins(store: store, logger: logger, unpinDelay: .seconds(configuration.unpinDelay))
        owner = (getuid(), getgid())
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        creationTime = now
        refresh()
    }

    // MARK: The tree

    /// Re-reads the store's references and registrations and, when they changed, installs the new tree and has
    /// the kernel forget names that changed. Cheap when nothing changed (lists the refs folders and reads the
    /// small ref files).
    public func refresh() {
        scan.withLock { scan in
            let references: [(reference: RepoReference, digest: Digest)]
            let registered: [(reference: RepoReference, digest: Digest)]
            do {
                references = try store.references()
                let complete = Set(references.map(\.reference))
                // A registration whose model completed meanwhile is about to be removed: the manifest wins.
                registered = try store.registrations().filter { !complete.contains($0.reference) }
            } catch {
                logger.warning("could not list the store's models", metadata: ["error": "\(error)"])
                return
            }
            let signature = references.map { "\($0.reference)=\($0.digest.hex)" } + registered.map { "\($0.reference)~\($0.digest.hex)" }
            guard signature != scan.signature else { return }
            var models: [MountedModel] = []
            var manifests: [Digest: Manifest] = [:]
            var registrations: [Digest: Registration] = [:]
            var complete = true
            for (reference, digest) in references {
                do {
                    let manifest = try scan.manifests[digest] ?? manifests[digest] ?? store.manifest(digest)
                    manifests[digest] = manifest
                    models.append(MountedModel(reference: reference, digest: digest, manifest: manifest))
                } catch {
                    complete = false
                    logger.warning("skipping a model whose manifest cannot be read", metadata: ["model": "\(reference)", "error": "\(error)"])
                }
            }
            for (reference, digest) in registered {
                do {
                    let registration = try scan.registrations[digest] ?? store.registration(digest)
                    registrations[digest] = registration
                    models.append(MountedModel(reference: reference, digest: digest, registration: registration))
                } catch {
                    complete = false
                    logger.warning("skipping a registered model that cannot be read", metadata: ["model": "\(reference)", "error": "\(error)"])
                }
            }
            scan.manifests = manifests
            scan.registrations = registrations
            scan.signature = complete ? signature : nil
            let tree = MountLayout.tree(of: models)
            let (invalidations, assignments) = table.withLock { table in (table.install(tree), table.takeAssignments()) }
            journal.record(assignments)
            logger.debug("installed the store's models", metadata: ["models": "\(models.count)", "invalidated": "\(invalidations.count)"])
            notifier.invalidate(invalidations)
            if let handler = modelsChangedHandler.withLock({ $0 }) { handler(Set(manifests.values.flatMap { $0.files.map(\.sha256) })) }
        }
    }

    /// Takes the inode numbers a previous server of the kernel connection gave, before serving any request.
    func adopt(_ previous: MountJournal) {
        journal.adopt(previous)
        scan.withLock { $0.signature = nil }
        table.withLock { $0 = InodeTable(known: previous.inodes) }
        refresh()
    }

    func whenModelsChange(_ handler: @escaping @Sendable (Set<Digest>) -> Void) {
        modelsChangedHandler.withLock { $0 = handler }
    }

    var storeRoot: String { store.root }

    /// The SHA-256 of every file of the complete models mounted now.
    func fileDigests() -> Set<Digest> {
        scan.withLock { scan in Set(scan.manifests.values.flatMap { $0.files.map(\.sha256) }) }
    }

    func node(_ inode: UInt64) -> Node? {
        table.withLock { $0.node(inode) }
    }

    /// Listings of models change on import: look at the store again before answering about them.
    private func refreshIfListing(_ inode: UInt64) {
        if let node = node(inode), node.isDirectory, !node.immutable { refresh() }
    }

    /// A name already in the tree is answered from it, without looking at the store: the refresher does that every
    /// `refreshInterval`, as often as the kernel asks again about names in listings (`listingTimeout`), and a scan
    /// on every lookup cost each open of a path after a second idle one scan per folder above it (0.3-2 ms each). A
    /// name not in the tree may just have been imported: the store is looked at again before answering that it is not.
    func lookup(parent: UInt64, name: String) -> Result<Entry, Errno> {
        let found = entry(parent: parent, name: name)
        guard case .failure(.noEntry) = found else { return found }
        refreshIfListing(parent)
        return entry(parent: parent, name: name)
    }

    private func entry(parent: UInt64, name: String) -> Result<Entry, Errno> {
        table.withLock { table in
            guard let parentNode = table.node(parent) else { return .failure(.noEntry) }
            guard let listing = parentNode.listing else { return .failure(.notADirectory) }
            guard let child = listing.entry(named: name), let node = table.node(child.inode) else { return .failure(.noEntry) }
            table.remember(child.inode)
            return .success(
                Entry(
                    inode: child.inode,
                    attributes: attributes(child.inode, node),
                    entryTimeout: parentNode.immutable ? configuration.immutableTimeout : configuration.listingTimeout,
                    attributeTimeout: timeout(for: node)
                ))
        }
    }

    func forget(_ inode: UInt64, count: UInt64) {
        table.withLock { $0.forget(inode, count: count) }
    }

    func attributes(of inode: UInt64) -> (attributes: stat, timeout: Double)? {
        guard let node = node(inode) else { return nil }
        return (attributes(inode, node), timeout(for: node))
    }

    /// The entries of a folder, `.` and `..` first, fixed when the folder is opened so offsets stay valid.
    func openDirectory(_ inode: UInt64) -> Result<DirectoryHandle, Errno> {
        refreshIfListing(inode)
        guard let node = node(inode) else { return .failure(.noEntry) }
        guard let listing = node.listing else { return .failure(.notADirectory) }
        var entries = [
            DirectoryListing.Entry(name: ".", inode: inode, isDirectory: true),
            DirectoryListing.Entry(name: "..", inode: InodeTable.rootInode, isDirectory: true),
        ]
        entries += listing.entries
        return .success(DirectoryHandle(entries: entries, cacheable: node.immutable))
    }

    func statistics() -> statvfs {
        let (files, bytes) = table.withLock { ($0.fileCount, $0.totalBytes) }
        var statistics = statvfs()
        statistics.f_bsize = 4096
        statistics.f_frsize = 4096
        statistics.f_blocks = fsblkcnt_t((bytes + 4095) / 4096)
        statistics.f_files = fsfilcnt_t(files)
        statistics.f_namemax = 255
        return statistics
    }

    private func timeout(for node: Node) -> Double {
        node.immutable ? configuration.immutableTimeout : configuration.listingTimeout
    }

    private func attributes(_ inode: UInt64, _ node: Node) -> stat {
        var attributes = stat()
        attributes.st_ino = ino_t(inode)
        attributes.st_uid = owner.uid
        attributes.st_gid = owner.gid
        attributes.st_atim = creationTime
        attributes.st_mtim = creationTime
        attributes.st_ctim = creationTime
        if let listing = node.listing {
            attributes.st_mode = S_IFDIR | 0o555
            attributes.st_nlink = nlink_t(2 + listing.subdirectoryCount)
        } else {
            attributes.st_mode = S_IFREG | 0o444
            attributes.st_nlink = 1
            attributes.st_size = off_t(node.size)
            attributes.st_blocks = blkcnt_t((node.size + 511) / 512)
            attributes.st_blksize = 1 << 20
        }
        return attributes
    }

    // MARK: Files

    func open(_ inode: UInt64, flags: Int32) -> Result<OpenFile, Errno> {
        guard let node = node(inode) else { return .failure(.noEntry) }
        guard !node.isDirectory else { return .failure(.isADirectory) }
        guard flags & O_ACCMODE == O_RDONLY, flags & O_TRUNC == 0 else { return .failure(.readOnly) }
        if case .modelFile(let model) = node.content { pins.acquire(model.manifest) }
        return .success(OpenFile(inode: inode, content: node.content))
    }

    func release(_ file: OpenFile) {
        if case .modelFile(let model) = file.content { pins.release(model.manifest) }
    }

    /// Gathers the chunks covering `size` bytes at `offset` (fewer at the end of the file) and calls `reply` once,
    /// from whichever thread delivers the last chunk.
    func read(_ file: OpenFile, offset: UInt64, size: Int, reply: @escaping @Sendable (Result<[ReadSlice], ChunkSourceError>) -> Void) {
        switch file.content {
        case .modelFile(let model):
            let manifestFile = model.file
            let chunks = manifestFile.chunks
            let span = { (index: Int) in ChunkSpan(offset: chunks[index].offset, length: chunks[index].length) }
            let next = gather(count: chunks.count, span: span, fileSize: manifestFile.size, offset: offset, size: size, reply: reply) {
                index, completion in
                let origin = ChunkOrigin(source: model.source, offset: chunks[index].offset)
                source.chunk(
                    ChunkRequest(id: chunks[index].id, length: chunks[index].length, file: manifestFile.path, origin: origin), completion: completion)
            }
            guard let next, file.recordRead(offset: offset, size: size, window: configuration.sequentialReadWindow).sequential else { return }
            for chunk in manifestFile.chunks[next..<min(manifestFile.chunks.count, next + configuration.prefetchChunks)] {
                let origin = ChunkOrigin(source: model.source, offset: chunk.offset)
                source.chunk(ChunkRequest(id: chunk.id, length: chunk.length, file: manifestFile.path, urgency: .prefetch, origin: origin)) { _ in }
            }
        case .pendingFile(let pending):
            let spans = pending.file.spans
            let inode = file.inode
            let checkedReply: @Sendable (Result<[ReadSlice], ChunkSourceError>) -> Void = { [notifier] result in
                // Earlier reads may have cached bytes of a file that then failed its check.
                if case .failure(.fileMismatch) = result { notifier.invalidateContent(of: inode) }
                reply(result)
            }
            let next = gather(count: spans.count, span: { spans[$0] }, fileSize: pending.file.size, offset: offset, size: size, reply: checkedReply) {
                index, completion in
                source.pendingChunk(pending.request(index, urgency: .read), completion: completion)
            }
            // Fetching ahead costs network bytes: only for readers that have read a while in sequence, so a reader
            // that wants one tensor gets that tensor's chunks and not its neighbours'.
            guard let next,
                file.recordRead(offset: offset, size: size, window: configuration.sequentialReadWindow).run >= configuration.pendingPrefetchAfterBytes
            else { return }
            for index in next..<min(spans.count, next + configuration.prefetchChunks) {
                source.pendingChunk(pending.request(index, urgency: .prefetch)) { _ in }
            }
        case .directory, .text:
            reply(.success([]))
        }
    }

    /// Asks `fetch` for each span overlapping the read and replies once all are in; returns the index of the
    /// span after the read, or nil when the read is empty.
    private func gather(
        count: Int,
        span: (Int) -> ChunkSpan,
        fileSize: UInt64,
        offset: UInt64,
        size: Int,
        reply: @escaping @Sendable (Result<[ReadSlice], ChunkSourceError>) -> Void,
        fetch: (Int, @escaping @Sendable (Result<ChunkData, ChunkSourceError>) -> Void) -> Void
    ) -> Int? {
        guard size > 0, offset < fileSize, var index = ChunkSpan.index(containing: offset, count: count, span: span) else {
            reply(.success([]))
            return nil
        }
        let end = min(fileSize, offset + UInt64(size))
        var wanted: [Int] = []
        while index < count, span(index).offset < end {
            wanted.append(index)
            index += 1
        }
        let gather = ReadGather(count: wanted.count, reply: reply)
        for (slot, spanIndex) in wanted.enumerated() {
            let chunk = span(spanIndex)
            let from = max(offset, chunk.offset) - chunk.offset
            let to = min(end, chunk.end) - chunk.offset
            fetch(spanIndex) { result in
                gather.fill(slot, with: result.map { ReadSlice(data: $0, offset: from, count: Int(to - from)) })
            }
        }
        return index
    }

}

extension PendingFile {
    func request(_ index: Int, urgency: ChunkRequest.Urgency) -> PendingChunkRequest {
        PendingChunkRequest(registration: registration, fileIndex: fileIndex, spanIndex: index, file: file.path, urgency: urgency)
    }
}

extension MountConfiguration {
    /// How far from the previous read's end a read may start and still count as sequential: the kernel's
    /// read-ahead sends several reads at once, which arrive out of order.
    var sequentialReadWindow: UInt64 {
        UInt64(max(readAheadKiB ?? 128, 128) << 10) * 2
    }
}

/// errno values the mount answers with.
enum Errno: Int32, Error {
    case noEntry = 2  // ENOENT
    case isADirectory = 21  // EISDIR
    case notADirectory = 20  // ENOTDIR
    case readOnly = 30  // EROFS
}

/// A folder opened by `opendir`: its entries as they were then.
final class DirectoryHandle: Sendable {
    let entries: [DirectoryListing.Entry]
    let cacheable: Bool

    init(entries: [DirectoryListing.Entry], cacheable: Bool) {
        self.entries = entries
        self.cacheable = cacheable
    }
}

/// A file opened through the mount.
final class OpenFile: Sendable {
    private struct Reads {
        var lastEnd: UInt64 = 0
        /// Where the current run of sequential reads began.
        var runStart: UInt64 = 0
    }

    let inode: UInt64
    let content: Node.Content
    private let reads = Mutex(Reads())

    init(inode: UInt64, content: Node.Content) {
        self.inode = inode
        self.content = content
    }

    /// Whether this read continues the previous one (within `window`), which makes it worth reading ahead, and
    /// how many bytes the run of sequential reads it belongs to spans.
    func recordRead(offset: UInt64, size: Int, window: UInt64) -> (sequential: Bool, run: UInt64) {
        let end = offset + UInt64(size)
        return reads.withLock { reads in
            let sequential = offset + window >= reads.lastEnd && offset <= reads.lastEnd + window
            if !sequential { reads.runStart = offset }
            reads.lastEnd = end
            return (sequential, end - min(reads.runStart, end))
        }
    }
}

/// Collects the chunks of one read as they arrive, then replies once.
final class ReadGather: Sendable {
    typealias Reply = @Sendable (Result<[ModelFileSystem.ReadSlice], ChunkSourceError>) -> Void

    private struct State {
        var slices: [ModelFileSystem.ReadSlice?]
        var remaining: Int
        var replied = false
    }

    private let state: Mutex<State>
    private let reply: Reply

    init(count: Int, reply: @escaping Reply) {
        state = Mutex(State(slices: Array(repeating: nil, count: count), remaining: count))
        self.reply = reply
    }

    func fill(_ slot: Int, with result: Result<ModelFileSystem.ReadSlice, ChunkSourceError>) {
        let outcome: Result<[ModelFileSystem.ReadSlice], ChunkSourceError>? = state.withLock { state in
            guard !state.replied else { return nil }
            switch result {
            case .failure(let error):
                state.replied = true
                return .failure(error)
            case .success(let slice):
                state.slices[slot] = slice
                state.remaining -= 1
                guard state.remaining == 0 else { return nil }
                state.replied = true
                return .success(state.slices.compactMap { $0 })
            }
        }
        if let outcome { reply(outcome) }
    }
}
