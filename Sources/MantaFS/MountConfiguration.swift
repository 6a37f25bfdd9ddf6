#if canImport(Glibc)
import Glibc
#endif

/// How a mount behaves: kernel cache lifetimes, caches and threads of the read path.
public struct MountConfiguration: Sendable {
    /// Let users other than the one mounting read the mount (needs root or `user_allow_other` in /etc/fuse.conf).
    public var allowOther: Bool
    /// Seconds the kernel may cache names and attributes of model files and folders (their content never changes).
    public var immutableTimeout: Double
    /// Seconds the kernel may cache names and attributes of the folders that list models (they change on import).
    public var listingTimeout: Double
    /// Seconds between background scans of the store's references, which make removed models disappear.
    public var refreshInterval: Double
    /// Kernel read-ahead for the mount, in KiB; nil keeps the kernel's default (128 KiB for FUSE).
    public var readAheadKiB: Int?
    /// Bytes of decompressed chunks kept in memory.
    public var decodedCacheBytes: Int
    /// Bytes of verified chunk files kept open and mapped (replies are written from the mappings; the pages the
    /// mount touched count towards its resident memory).
    public var mappedChunkBytes: Int
    /// Threads that read and verify chunks.
    public var verifierThreads: Int
    /// Chunks verified (or, for registered models, fetched) ahead of a sequential reader.
    public var prefetchChunks: Int
    /// Bytes a reader of a registered model must have read in sequence before chunks are fetched ahead of it.
    public var pendingPrefetchAfterBytes: UInt64
    /// Chunks of registered models fetched at the same time.
    public var fetchConcurrency: Int
    /// Whether the mount uses the kernel features it finds: requests up to `fs.fuse.max_pages_limit`, a cloned
    /// descriptor per reader thread and passthrough of complete files. Off (`--no-passthrough`, or
    /// `MANTA_FUSE_FEATURES=none` in the environment) it behaves as on a kernel without them: 1 MiB requests, one
    /// descriptor, every byte through the mount.
    public var kernelFeatures: Bool
    /// Seconds a model stays pinned, and unrecorded as used, after its last open file closes (`OpenPins`), and a
    /// file's passthrough backing stays set up (`PassthroughBackings`): the refresher lets go on its first pass after.
    public var unpinDelay: Double
    /// Whether the mount outlives this process (`MountHandover`); nil: it ends when the process does.
    public var handover: MountHandover?

    public init(
        allowOther: Bool = geteuid() == 0,
        immutableTimeout: Double = 86_400,
        listingTimeout: Double = 1,
        refreshInterval: Double = 1,
        readAheadKiB: Int? = 4096,
        decodedCacheBytes: Int = 32 << 20,
        mappedChunkBytes: Int = 64 << 20,
        verifierThreads: Int = 4,
        prefetchChunks: Int = 4,
        pendingPrefetchAfterBytes: UInt64 = 8 << 20,
        fetchConcurrency: Int = 8,
        kernelFeatures: Bool = true,
        unpinDelay: Double = 2,
        handover: MountHandover? = nil
    ) {
        self.allowOther = allowOther
        self.immutableTimeout = immutableTimeout
        self.listingTimeout = listingTimeout
        self.refreshInterval = refreshInterval
        self.readAheadKiB = readAheadKiB
        self.decodedCacheBytes = decodedCacheBytes
        self.mappedChunkBytes = mappedChunkBytes
        self.verifierThreads = verifierThreads
        self.prefetchChunks = prefetchChunks
        self.pendingPrefetchAfterBytes = pendingPrefetchAfterBytes
        self.fetchConcurrency = fetchConcurrency
        self.kernelFeatures = kernelFeatures
        self.unpinDelay = unpinDelay
        self.handover = handover
    }
}
