import MantaStore
import MantaTransfer

#if canImport(Glibc)
import Glibc
#endif

/// A chunk the read path needs.
public struct ChunkRequest: Sendable, Hashable {
    public enum Urgency: Sendable, Hashable {
        /// A reader is waiting for it.
        case read
        /// A sequential reader will probably want it soon.
        case prefetch
    }

    public var id: ChunkID
    /// Uncompressed length, from the manifest.
    public var length: UInt64
    /// The file that needs it, for messages.
    public var file: String
    public var urgency: Urgency
    /// Where the chunk can be fetched again should the store lose it, when the mount knows.
    public var origin: ChunkOrigin?

    public init(id: ChunkID, length: UInt64, file: String, urgency: Urgency = .read, origin: ChunkOrigin? = nil) {
        self.id = id
        self.length = length
        self.file = file
        self.urgency = urgency
        self.origin = origin
    }
}

/// The model source a chunk came from, and its offset in `ChunkRequest.file` there.
public struct ChunkOrigin: Sendable, Hashable {
    public var source: Manifest.Source
    public var offset: UInt64

    public init(source: Manifest.Source, offset: UInt64) {
        self.source = source
        self.offset = offset
    }
}

/// The verified bytes of a chunk: an open file holding exactly them, or memory.
public enum ChunkData: Sendable {
    case file(ChunkFile)
    case memory(DecodedChunk)
}

/// An open, read-only file whose whole content is one verified chunk, mapped into memory: replies are written
/// from the mapping, so the kernel copies each byte once, from the store's page cache into the mount's. Unmapped
/// and closed when the last user lets go. Chunk files are only ever renamed into place and unlinked, never
/// truncated, so the mapping stays valid for as long as it is held; should one be cut short anyway, the `writev`
/// that touches the missing part fails inside the kernel (EFAULT, no signal) and the kernel fails that read with EIO.
public final class ChunkFile: Sendable {
    public let descriptor: Int32
    public let length: UInt64
    /// The mapping's address as an integer, since raw pointers are not `Sendable`; 0 for an empty chunk.
    private let mappingAddress: UInt

    /// Takes ownership of `descriptor` (closed here if mapping it fails, which gives nil).
    public init?(descriptor: Int32, length: UInt64) {
        if length > 0 {
            let mapping = mmap(nil, Int(length), PROT_READ, MAP_SHARED, descriptor, 0)
            guard let mapping, mapping != MAP_FAILED else {
                close(descriptor)
                return nil
            }
            mappingAddress = UInt(bitPattern: mapping)
        } else {
            mappingAddress = 0
        }
        self.descriptor = descriptor
        self.length = length
    }

    /// The chunk's bytes, paged in from the file as they are touched.
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: mappingAddress), count: Int(length))
    }

    deinit {
        if let start = UnsafeMutableRawPointer(bitPattern: mappingAddress) { munmap(start, Int(length)) }
        close(descriptor)
    }
}

/// A chunk's verified bytes in memory (decompressed, or just received from elsewhere).
public final class DecodedChunk: Sendable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }
}

/// A chunk of a registered model (`manta add`) whose id is not known until its bytes arrive.
public struct PendingChunkRequest: Sendable, Hashable {
    public var registration: Digest
    /// Index of the file in the registration, and of the chunk in the file's spans.
    public var fileIndex: Int
    public var spanIndex: Int
    /// The file's path, for messages.
    public var file: String
    public var urgency: ChunkRequest.Urgency

    public init(registration: Digest, fileIndex: Int, spanIndex: Int, file: String, urgency: ChunkRequest.Urgency = .read) {
        self.registration = registration
        self.fileIndex = fileIndex
        self.spanIndex = spanIndex
        self.file = file
        self.urgency = urgency
    }
}

/// Where the mount gets chunk bytes. The seam for lazy fetching: a source may answer at once, or later from
/// any thread (after a peer or the hub delivered the chunk), and the FUSE worker that asked never waits.
///
/// Contract: `completion` is called exactly once, on any thread, possibly before `chunk` returns, and only
/// with bytes whose SHA-256 equals `request.id`.
public protocol ChunkSource: Sendable {
    func chunk(_ request: ChunkRequest, completion: @escaping @Sendable (Result<ChunkData, ChunkSourceError>) -> Void)

    /// Gets a chunk of a registered model, fetching it from the model's source if it is not stored yet. The same
    /// contract as `chunk`, except that the bytes are checked against the whole file's SHA-256 once it is in.
    func pendingChunk(_ request: PendingChunkRequest, completion: @escaping @Sendable (Result<ChunkData, ChunkSourceError>) -> Void)

    /// Records which chunks were read, for least-recently-used eviction; called now and then, never on a reader's path.
    func flushAccessLog()
}

extension ChunkSource {
    /// Sources without a way to fetch cannot serve registered models.
    public func pendingChunk(_ request: PendingChunkRequest, completion: @escaping @Sendable (Result<ChunkData, ChunkSourceError>) -> Void) {
        completion(.failure(.notFetchable(file: request.file)))
    }
}
