import MantaStore

#if canImport(Glibc)
import Glibc
#endif

/// Why a mount could not start or stop.
public enum MountError: Error, CustomStringConvertible {
    case mountPointMissing(String)
    case mountPointNotADirectory(String)
    case staleMount(String)
    case sessionCreationFailed(String)
    case mountFailed(String)
    case alreadyStarted(String)

    public var description: String {
        switch self {
        case .mountPointMissing(let path):
            "mount point \(path) does not exist: create the folder first (mkdir -p \(path))"
        case .mountPointNotADirectory(let path):
            "mount point \(path) is not a folder: give an empty folder to mount on"
        case .staleMount(let path):
            "mount point \(path) is a stale FUSE mount (transport endpoint is not connected): run `fusermount3 -u \(path)` and retry"
        case .sessionCreationFailed(let path):
            "libfuse could not create a session for \(path): check that /dev/fuse exists and the fuse3 package is installed"
        case .mountFailed(let path):
            "mounting on \(path) failed: check that /dev/fuse is accessible, that you may mount there (root, or fusermount3 installed), and the log above"
        case .alreadyStarted(let path):
            "the mount on \(path) is already running"
        }
    }
}

/// Why a chunk could not be served; a read that needs it fails with `errno` (EIO), never with wrong bytes.
public enum ChunkSourceError: Error, CustomStringConvertible, Sendable {
    case missing(chunk: ChunkID, file: String)
    case corrupt(chunk: ChunkID, file: String)
    /// A chunk whose bytes did not hash to its id, moved to `quarantine/` by the mount.
    case quarantined(chunk: ChunkID, file: String)
    case unreadable(chunk: ChunkID, file: String, reason: String)
    /// A registered model's chunk that this mount has no source to fetch from.
    case notFetchable(file: String)
    /// A registered model's chunk that its source could not deliver.
    case fetchFailed(file: String, offset: UInt64, reason: String)
    /// A registered model's file whose bytes did not hash to the SHA-256 its source announced.
    case fileMismatch(file: String, reason: String)

    public var description: String {
        switch self {
        case .missing(let chunk, let file):
            "chunk \(chunk) of '\(file)' is not in the store: pull the model again or run `manta verify`"
        case .corrupt(let chunk, let file):
            "chunk \(chunk) of '\(file)' is corrupt (its bytes do not hash to its id): run `manta verify` to quarantine it, then pull or import the model again"
        case .quarantined(let chunk, let file):
            "chunk \(chunk) of '\(file)' is corrupt (its bytes do not hash to its id: its file was changed or damaged after it was checked); it was moved to quarantine/ and none of it was served: pull or import the model again"
        case .unreadable(let chunk, let file, let reason):
            "chunk \(chunk) of '\(file)' could not be read: \(reason)"
        case .notFetchable(let file):
            "'\(file)' belongs to a model registered with `manta add` whose bytes are not fetched yet, and this mount cannot fetch: mount with a hub source (`manta mount --endpoint`), or `manta pull` the model"
        case .fetchFailed(let file, let offset, let reason):
            "the chunk at offset \(offset) of '\(file)' could not be fetched: \(reason)"
        case .fileMismatch(let file, let reason):
            "'\(file)' failed its whole-file check and its fetched chunks were dropped: \(reason)"
        }
    }

    public var errno: Int32 { EIO }
}
