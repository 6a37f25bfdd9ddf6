/// What went wrong in the node store, and what to do about it.
public enum StoreError: Error, CustomStringConvertible {
    case notWritable(path: String, reason: String)
    case diskFull(path: String)
    case io(path: String, operation: String, errno: Int32)
    case database(path: String, String)
    /// The metadata database is not a database or is malformed; an open that has the store to itself rebuilds it.
    case databaseDamaged(path: String, String)
    case missingDirectory(String)
    case notADirectory(String)
    case notARegularFile(String)
    case unknownReference(String)
    case missingManifest(Digest)
    case invalidManifest(Digest, ManifestError)
    case missingChunk(file: String, chunk: ChunkID)
    case corruptChunk(file: String?, chunk: ChunkID)
    case hashMismatch(expected: ChunkID, actual: Digest)
    case invalidConfiguration(String)
    case busy(String)
    case missingRegistration(Digest)
    case invalidRegistration(Digest, ManifestError)
    case registrationIncomplete(String)
    case threadUnavailable(errno: Int32)

    public var description: String {
        switch self {
        case .notWritable(let path, let reason):
            "store at \(path) is not writable (\(reason)): choose a writable --store or fix its permissions"
        case .diskFull(let path):
            "no space left on the device holding \(path): free space, lower the quota or run `manta gc`, then retry; nothing partial was kept"
        case .io(let path, let operation, let code):
            "\(operation) \(path) failed: \(String(cString: strerror(code)))"
        case .database(let path, let message):
            "metadata database \(path): \(message)"
        case .databaseDamaged(let path, let message):
            "metadata database \(path) is damaged (\(message)): stop every manta process using this store (a mount or an agent) and run any manta command; it moves the damaged file aside and rebuilds it from the store's files, which hold every model, reference and pin"
        case .missingDirectory(let path):
            "\(path) does not exist: give the folder that holds the model files"
        case .notADirectory(let path):
            "\(path) is not a folder: give the folder that holds the model files"
        case .notARegularFile(let path):
            "\(path) is not a regular file (a socket, device, pipe or dangling link): remove it or import a folder without it"
        case .unknownReference(let reference):
            "no model \(reference) in the store: `manta ls` lists what is there"
        case .missingManifest(let digest):
            "manifest \(digest) is not in the store: import or pull the model again"
        case .invalidManifest(let digest, let error):
            "manifest \(digest) is invalid: \(error)"
        case .missingChunk(let file, let chunk):
            "chunk \(chunk) of '\(file)' is not in the store: pull the model again or run `manta verify`"
        case .corruptChunk(let file, let chunk):
            "chunk \(chunk)\(file.map { " of '\($0)'" } ?? "") is corrupt (its file does not decode, or its bytes do not hash to its id): run `manta verify` to quarantine it, then pull or import the model again"
        case .hashMismatch(let expected, let actual):
            "bytes hash to \(actual), not to the expected \(expected)"
        case .invalidConfiguration(let message):
            "store configuration: \(message)"
        case .missingRegistration(let digest):
            "registration \(digest) is not in the store: run `manta add` again"
        case .invalidRegistration(let digest, let error):
            "registration \(digest) is invalid (\(error)): remove the model with `manta rm` and run `manta add` again"
        case .registrationIncomplete(let reference):
            "\(reference) cannot become a normal model yet: some of its files are not fetched and checked"
        case .threadUnavailable(let code):
            "cannot start a worker thread (\(String(cString: strerror(code)))): the process or its container has used up its threads (`pids.max`, `ulimit -u`) or memory; raise the limit or run fewer manta processes at once, then retry"
        case .busy(let root):
            "another manta process (a mount or an agent) keeps the store at \(root) open: stop it first, then run this again"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
