#if canImport(Glibc)
import Glibc
#endif

/// Which chunks of a registered model are stored, read back from its journal. A chunk counts only while it
/// is still in the store; a file counts as verified only once its whole-file SHA-256 was checked.
public struct RegistrationProgress: Sendable, Hashable {
    /// Per file, per span: the id of the stored chunk, once known.
    public var ids: [[ChunkID?]]
    /// Indices of the files whose whole-file SHA-256 matched.
    public var verified: Set<Int>

    public init(registration: Registration) {
        ids = registration.files.map { [ChunkID?](repeating: nil, count: $0.spans.count) }
        verified = []
    }

    /// Every chunk id of the file, once all are known.
    public func completeIDs(ofFile index: Int) -> [ChunkID]? {
        let ids = ids[index].compactMap { $0 }
        return ids.count == self.ids[index].count ? ids : nil
    }

    public var isComplete: Bool { verified.count == ids.count }
}

extension Store {
    var pendingDirectory: String { root + "/pending" }
    var pendingReferencesDirectory: String { pendingDirectory + "/refs" }

    func registrationPath(_ digest: Digest) -> String { "\(pendingDirectory)/\(digest.hex).json" }
    func journalPath(_ digest: Digest) -> String { "\(pendingDirectory)/\(digest.hex).journal" }

    /// Records `registration` under its reference (replacing an earlier registration of the same reference) and
    /// returns its digest. The body is written before the name that points at it, so a crash leaves either.
    @discardableResult
    public func register(_ registration: Registration) throws -> Digest {
        let digest = try writeOnce(registration.canonicalJSON(), named: registrationPath).digest
        let previous = try writeReference(registration.reference, to: digest, in: pendingReferencesDirectory)
        if let previous, previous != digest { removeRegistrationFiles(previous) }
        return digest
    }

    /// Every registered model not yet complete, sorted.
    public func registrations() throws -> [(reference: RepoReference, digest: Digest)] {
        try references(in: pendingReferencesDirectory)
    }

    public func registration(_ digest: Digest) throws -> Registration {
        let path = registrationPath(digest)
        guard FileSystem.exists(path) else { throw StoreError.missingRegistration(digest) }
        do {
            return try Registration.decode(try FileSystem.readAll(path), expectedDigest: digest)
        } catch let error as ManifestError {
            throw StoreError.invalidRegistration(digest, error)
        }
    }

    /// The registration's journal replayed: `chunk <file> <span> <id>`, `verified <file>`, `reset <file>` lines.
    /// Torn or foreign lines are skipped.
    public func progress(of digest: Digest, registration: Registration) -> RegistrationProgress {
        var progress = RegistrationProgress(registration: registration)
        guard let bytes = try? FileSystem.readAll(journalPath(digest)) else { return progress }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count >= 2, let file = Int(fields[1]), progress.ids.indices.contains(file) else { continue }
            switch (fields[0], fields.count) {
            case ("chunk", 4):
                guard let span = Int(fields[2]), progress.ids[file].indices.contains(span), let id = Digest(hex: fields[3]) else { continue }
                progress.ids[file][span] = id
            case ("verified", 2):
                progress.verified.insert(file)
            case ("reset", 2):
                progress.ids[file] = progress.ids[file].map { _ in nil }
                progress.verified.remove(file)
            default:
                continue
            }
        }
        for file in progress.ids.indices {
            for span in progress.ids[file].indices {
                if let id = progress.ids[file][span], !contains(id) { progress.ids[file][span] = nil }
            }
            if progress.completeIDs(ofFile: file) == nil { progress.verified.remove(file) }
        }
        return progress
    }

    /// Journals that chunk `span` of file `file` is stored as `id` (after the chunk itself is durable).
    public func recordPendingChunk(_ id: ChunkID, file: Int, span: Int, of digest: Digest) throws {
        try appendToJournal("chunk \(file) \(span) \(id.hex)\n", of: digest)
    }

    /// Journals that file `file` matched its SHA-256.
    public func recordFileVerified(_ file: Int, of digest: Digest) throws {
        try appendToJournal("verified \(file)\n", of: digest)
    }

    /// Forgets the chunks of file `file` (it failed its check), and deletes those that nothing else uses
    /// (see `discardUnreferenced`).
    public func resetPendingFile(_ file: Int, ids: [ChunkID], of digest: Digest, by session: WriteSession) throws {
        try appendToJournal("reset \(file)\n", of: digest)
        try discardUnreferenced(ids, by: session)
    }

    /// Replaces a registration whose files are all verified by its manifest and (pinned) reference. Returns the
    /// manifest's digest.
    @discardableResult
    public func completeRegistration(_ digest: Digest, ids: [[ChunkID]]) throws -> Digest {
        let registration = try registration(digest)
        guard ids.count == registration.files.count, zip(ids, registration.files).allSatisfy({ $0.count == $1.spans.count }) else {
            throw StoreError.registrationIncomplete(registration.reference.description)
        }
        try syncChunkFolders(for: ids.joined())
        let manifestDigest = try put(registration.manifest(ids: ids))
        try setReference(registration.reference, to: manifestDigest, pinned: true)
        try removeRegistration(registration.reference)
        return manifestDigest
    }

    /// Forgets the registration of `reference` (its chunks stay until GC frees what nothing uses).
    public func removeRegistration(_ reference: RepoReference) throws {
        guard let digest = try resolve(reference, in: pendingReferencesDirectory) else {
            throw StoreError.unknownReference(reference.description)
        }
        let path = referencePath(reference, in: pendingReferencesDirectory)
        guard unlink(path) == 0 else { throw StoreError.fromErrno(errno, path: path, operation: "remove") }
        removeRegistrationFiles(digest)
    }

    /// Chunks that registrations have journaled: GC keeps them.
    func registeredChunks() throws -> Set<ChunkID> {
        var chunks = Set<ChunkID>()
        for (_, digest) in try registrations() {
            guard let registration = try? registration(digest) else { continue }
            for ids in progress(of: digest, registration: registration).ids {
                chunks.formUnion(ids.compactMap { $0 })
            }
        }
        return chunks
    }

    /// Start-up recovery: drops registrations that a crash left behind after their manifest was written, and
    /// registration files that no name points at.
    func recoverRegistrations() throws {
        var named = Set<Digest>()
        for (reference, digest) in try registrations() {
            if let manifestDigest = try resolve(reference), let manifest = try? manifest(manifestDigest),
                let registration = try? registration(digest), manifest.source == registration.source
            {
                try removeRegistration(reference)
            } else {
                named.insert(digest)
            }
        }
        for name in try FileSystem.listing(of: pendingDirectory) where name.hasSuffix(".json") || name.hasSuffix(".journal") {
            let hex = name.split(separator: ".").first.map(String.init) ?? ""
            guard let digest = Digest(hex: hex), !named.contains(digest) else { continue }
            unlink("\(pendingDirectory)/\(name)")
        }
    }

    private func removeRegistrationFiles(_ digest: Digest) {
        unlink(registrationPath(digest))
        unlink(journalPath(digest))
    }

    private func appendToJournal(_ line: String, of digest: Digest) throws {
        let path = journalPath(digest)
        let bytes = Array(line.utf8)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw StoreError.io(path: path, operation: "open", errno: errno) }
        defer { close(descriptor) }
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw StoreError.io(path: path, operation: "append to", errno: written < 0 ? errno : EIO) }
    }
}
