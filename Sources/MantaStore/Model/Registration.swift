#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A model registered from its source's metadata alone (`manta add`): every file's size, expected SHA-256
/// and chunk layout, but no chunk ids, which are known only once the bytes arrive. The mount shows it at
/// once and fetches chunks on first read; when every file is in and checked, a normal manifest replaces it.
/// Its canonical JSON bytes hash to its digest, which names its progress journal.
public struct Registration: Hashable, Sendable, Codable {
    public static let formatVersion = 1

    public struct File: Hashable, Sendable, Codable {
        /// Relative, `/`-separated, without `.` or `..` parts.
        public var path: String
        public var size: UInt64
        /// What the whole file must hash to (the hub's LFS oid, or the hash of a small file read at registration).
        public var sha256: Digest
        public var scheme: ChunkingScheme
        /// The chunk layout, computed from the header; tiles `0..<size`.
        public var spans: [ChunkSpan]
        /// The hub's git blob id of a file it gives no SHA-256 for, checked when the file was read (see `Manifest.File`).
        public var gitBlobID: String?

        public init(path: String, size: UInt64, sha256: Digest, scheme: ChunkingScheme, spans: [ChunkSpan], gitBlobID: String? = nil) {
            self.path = path
            self.size = size
            self.sha256 = sha256
            self.scheme = scheme
            self.spans = spans
            self.gitBlobID = gitBlobID
        }

        /// The manifest entry once every chunk's id is known (`ids` in span order).
        public func manifestFile(ids: [ChunkID]) -> Manifest.File {
            Manifest.File(
                path: path, size: size, sha256: sha256, scheme: scheme,
                chunks: zip(spans, ids).map { Manifest.Chunk(offset: $0.offset, length: $0.length, id: $1) }, gitBlobID: gitBlobID
            )
        }
    }

    public var version: Int
    /// The store's name for the model once complete.
    public var reference: RepoReference
    /// Where the bytes come from (kind, repo, revision, resolved commit, endpoint).
    public var source: Manifest.Source
    public var chunkSize: UInt64
    /// Sorted by path.
    public var files: [File]

    public init(reference: RepoReference, source: Manifest.Source, chunkSize: UInt64, files: [File]) {
        version = Self.formatVersion
        self.reference = reference
        self.source = source
        self.chunkSize = chunkSize
        self.files = files.sorted { $0.path < $1.path }
    }

    public var logicalSize: UInt64 { files.reduce(0) { $0 + $1.size } }

    /// Sorted keys, no insignificant white space: equal registrations have equal bytes.
    public func canonicalJSON() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain Codable values of strings and integers cannot fail.
        return Array((try? encoder.encode(self)) ?? Data())
    }

    public var digest: Digest { SHA256Hasher.hash(canonicalJSON()) }

    /// The manifest that replaces the registration, given every file's chunk ids (in span order).
    public func manifest(ids: [[ChunkID]]) -> Manifest {
        Manifest(source: source, chunkSize: chunkSize, files: zip(files, ids).map { $0.manifestFile(ids: $1) })
    }

    /// Decodes and checks a registration from untrusted bytes: version, paths, span tiling and the digest.
    public static func decode(_ bytes: [UInt8], expectedDigest: Digest) throws(ManifestError) -> Registration {
        guard SHA256Hasher.hash(bytes) == expectedDigest else { throw .digestMismatch(expected: expectedDigest) }
        let registration: Registration
        do {
            registration = try JSONDecoder().decode(Registration.self, from: Data(bytes))
        } catch {
            throw .unreadable(String(describing: error))
        }
        guard registration.version == formatVersion else { throw .unsupportedVersion(registration.version) }
        // The same rules as a manifest's: a registration becomes one.
        let placeholder = Digest(bytes: [UInt8](repeating: 0, count: 32))
        try registration.manifest(ids: registration.files.map { [ChunkID](repeating: placeholder, count: $0.spans.count) }).validate()
        return registration
    }
}
