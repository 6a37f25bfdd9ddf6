#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The content-addressed description of one repository revision: its files and their chunks.
/// Its canonical JSON bytes hash to the manifest digest, the trust root a Torrent's status records.
public struct Manifest: Hashable, Sendable, Codable {
    public static let formatVersion = 1

    public struct Source: Hashable, Sendable, Codable {
        /// `huggingface` for hub repositories, `local` for imported directories.
        public var kind: String
        public var repo: String
        /// The revision that was asked for (a branch, tag or commit).
        public var revision: String
        /// The resolved commit sha.
        public var commit: String
        public var endpoint: String?

        public init(kind: String, repo: String, revision: String, commit: String, endpoint: String? = nil) {
            self.kind = kind
            self.repo = repo
            self.revision = revision
            self.commit = commit
            self.endpoint = endpoint
        }
    }

    public struct Chunk: Hashable, Sendable, Codable {
        public var offset: UInt64
        public var length: UInt64
        public var id: ChunkID

        public init(offset: UInt64, length: UInt64, id: ChunkID) {
            self.offset = offset
            self.length = length
            self.id = id
        }

        public var end: UInt64 { offset + length }
    }

    public struct File: Hashable, Sendable, Codable {
        /// Relative, `/`-separated, without `.` or `..` parts.
        public var path: String
        public var size: UInt64
        public var sha256: Digest
        public var scheme: ChunkingScheme
        public var chunks: [Chunk]
        /// The hub's git blob id of a file the hub gives no SHA-256 for (see `GitBlobHasher`), checked when the file
        /// was stored. Absent for LFS files, local imports and manifests written before it was recorded; an absent
        /// value is not written, so those manifests keep their digest.
        public var gitBlobID: String?

        public init(path: String, size: UInt64, sha256: Digest, scheme: ChunkingScheme, chunks: [Chunk], gitBlobID: String? = nil) {
            self.path = path
            self.size = size
            self.sha256 = sha256
            self.scheme = scheme
            self.chunks = chunks
            self.gitBlobID = gitBlobID
        }

        /// The index of the chunk holding byte `offset`, by binary search.
        public func chunkIndex(containing offset: UInt64) -> Int? {
            ChunkSpan.index(containing: offset, count: chunks.count) { ChunkSpan(offset: chunks[$0].offset, length: chunks[$0].length) }
        }
    }

    public var version: Int
    public var source: Source
    public var chunkSize: UInt64
    /// Sorted by path.
    public var files: [File]

    public init(source: Source, chunkSize: UInt64, files: [File]) {
        self.version = Self.formatVersion
        self.source = source
        self.chunkSize = chunkSize
        self.files = files.sorted { $0.path < $1.path }
    }

    public var logicalSize: UInt64 { files.reduce(0) { $0 + $1.size } }

    /// Every distinct chunk id, sorted.
    public var chunkIDs: [ChunkID] { Array(Set(files.flatMap { $0.chunks.map(\.id) })).sorted() }

    public func file(at path: String) -> File? { files.first { $0.path == path } }

    /// Sorted keys, no insignificant white space: equal manifests have equal bytes.
    public func canonicalJSON() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain Codable values of strings and integers cannot fail.
        return Array((try? encoder.encode(self)) ?? Data())
    }

    public var digest: Digest { SHA256Hasher.hash(canonicalJSON()) }

    /// Decodes and checks a manifest from untrusted bytes: paths, chunk tiling and, when given, the digest.
    public static func decode(_ bytes: [UInt8], expectedDigest: Digest? = nil) throws(ManifestError) -> Manifest {
        guard bytes.count <= maximumEncodedSize else {
            throw .unreadable("\(bytes.count) bytes, more than the \(maximumEncodedSize) a manifest may have")
        }
        if let expectedDigest, SHA256Hasher.hash(bytes) != expectedDigest {
            throw .digestMismatch(expected: expectedDigest)
        }
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: Data(bytes))
        } catch {
            throw .unreadable(String(describing: error))
        }
        try manifest.validate()
        return manifest
    }

    /// The most bytes of manifest JSON read from elsewhere (a peer, a stored file): about 1.5 million chunk
    /// entries, a 6 TiB model at the default 4 MiB chunks. Decoding allocates a few times this much.
    public static let maximumEncodedSize = 256 << 20

    /// No file, and no model, is larger: 1 PiB, far above any model, and far enough below `Int64.max` that
    /// sizes and offsets convert to `off_t` and add up without overflow.
    public static let maximumLogicalSize: UInt64 = 1 << 50

    /// Checks everything that is read from the manifest before it is believed: safe, distinct paths; chunks
    /// that tile each file, none empty or longer than `ChunkEncoding.maximumChunkSize`; sizes under
    /// `maximumLogicalSize`. Every sum is checked before it is made, so hostile numbers are refused, not trapped on.
    public func validate() throws(ManifestError) {
        guard version == Self.formatVersion else { throw .unsupportedVersion(version) }
        var seen = Set<String>()
        var total: UInt64 = 0
        for file in files {
            guard Self.isSafeRelativePath(file.path) else { throw .unsafePath(file.path) }
            guard seen.insert(file.path).inserted else { throw .duplicatePath(file.path) }
            guard file.size <= Self.maximumLogicalSize else { throw .tooLarge(file.path, size: file.size) }
            var expected: UInt64 = 0
            for chunk in file.chunks {
                guard chunk.length <= UInt64(ChunkEncoding.maximumChunkSize) else {
                    throw .chunkTooLong(file.path, offset: chunk.offset, length: chunk.length)
                }
                // `expected` never passes `file.size`, so neither sum can overflow once `offset == expected`.
                guard chunk.offset == expected, chunk.length > 0, chunk.length <= file.size - expected else { throw .chunksDoNotTile(file.path) }
                expected = chunk.end
            }
            guard expected == file.size else { throw .chunksDoNotTile(file.path) }
            total += file.size
            guard total <= Self.maximumLogicalSize else { throw .tooLarge(nil, size: total) }
        }
        let paths = Set(files.map(\.path))
        for path in paths {
            var parent = Substring(path)
            while let slash = parent.lastIndex(of: "/") {
                parent = parent[..<slash]
                guard !paths.contains(String(parent)) else { throw .fileIsAlsoFolder(String(parent)) }
            }
        }
    }

    public static func isSafeRelativePath(_ path: String) -> Bool {
        guard !path.isEmpty, !path.hasPrefix("/"), path.utf8.count <= 4096, !path.utf8.contains(0) else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { $0 != "" && $0 != "." && $0 != ".." }
    }
}

public enum ManifestError: Error, Equatable, CustomStringConvertible {
    case digestMismatch(expected: Digest)
    case unreadable(String)
    case unsupportedVersion(Int)
    case unsafePath(String)
    case duplicatePath(String)
    case fileIsAlsoFolder(String)
    case chunksDoNotTile(String)
    /// A file (or, without a path, all files together) larger than `Manifest.maximumLogicalSize`.
    case tooLarge(String?, size: UInt64)
    case chunkTooLong(String, offset: UInt64, length: UInt64)

    public var description: String {
        switch self {
        case .digestMismatch(let expected):
            "manifest bytes do not hash to \(expected): the manifest is corrupt or truncated; fetch it again"
        case .unreadable(let reason):
            "manifest is not valid manifest JSON (\(reason)): it is corrupt or truncated; fetch it again"
        case .unsupportedVersion(let version):
            "manifest format version \(version) is not supported (this manta reads version \(Manifest.formatVersion)); upgrade manta"
        case .unsafePath(let path):
            "manifest names the unsafe path '\(path)': paths must be relative without '.' or '..' parts"
        case .duplicatePath(let path):
            "manifest lists '\(path)' twice"
        case .fileIsAlsoFolder(let path):
            "manifest uses '\(path)' both as a file and as a folder"
        case .chunksDoNotTile(let path):
            "the chunks of '\(path)' do not cover the file exactly once from offset 0 to its size"
        case .tooLarge(let path, let size):
            "manifest gives \(path.map { "'\($0)'" } ?? "its files together") a size of \(size) bytes, above the limit of "
                + "\(Manifest.maximumLogicalSize): it is corrupt or hostile"
        case .chunkTooLong(let path, let offset, let length):
            "manifest gives the chunk of '\(path)' at offset \(offset) a length of \(length) bytes, above the largest chunk "
                + "(\(ChunkEncoding.maximumChunkSize)): it is corrupt or hostile"
        }
    }
}
