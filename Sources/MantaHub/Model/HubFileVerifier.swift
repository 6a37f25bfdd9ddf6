import MantaStore
import NIOCore
import NIOPosix
import _NIOFileSystem

#if canImport(Glibc)
import Glibc
#endif

/// Checks a file on disk against what the hub announced, and hashes files without blocking async tasks.
public enum HubFileVerifier {
    /// Size always; SHA-256 when the hub vouches for one (LFS files).
    public static func verify(fileAt path: String, against file: HubFile, repo: HubRepoID) async throws {
        guard let info = try await FileSystem.shared.info(forFileAt: FilePath(path)) else {
            throw HubError.sizeMismatch(repo: repo, path: file.path, expected: file.size, actual: 0)
        }
        guard Int64(info.size) == file.size else {
            throw HubError.sizeMismatch(repo: repo, path: file.path, expected: file.size, actual: Int64(info.size))
        }
        guard let expected = file.sha256 else { return }
        let actual = try await sha256(ofFileAt: path)
        guard actual == expected else { throw HubError.hashMismatch(repo: repo, path: file.path, expected: expected, actual: actual) }
    }

    /// SHA-256 of a whole file, read in 1 MiB pieces on NIO's blocking-I/O thread pool.
    public static func sha256(ofFileAt path: String) async throws -> Digest {
        try await hashes(ofFileAt: path, gitBlobOfSize: nil).sha256
    }

    /// SHA-256 of a whole file and, given the size it had when listed, its git blob id (`GitBlobHasher`) in the same
    /// pass; a file that grew or shrank since is an error rather than a wrong id.
    static func hashes(ofFileAt path: String, gitBlobOfSize size: Int64?) async throws -> (sha256: Digest, gitBlobID: String?) {
        try await NIOThreadPool.singleton.runIfActive {
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "open \(path)") }
            defer { close(descriptor) }
            var hasher = SHA256Hasher()
            let blob = size.map { GitBlobHasher(size: UInt64($0)) }
            var total: Int64 = 0
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let count = buffer.withUnsafeMutableBytes { buffer in retryingEINTR { read(descriptor, buffer.baseAddress, buffer.count) } }
                guard count >= 0 else { throw IOError(errnoCode: errno, reason: "read \(path)") }
                if count == 0 { break }
                total += Int64(count)
                buffer.withUnsafeBytes { bytes in
                    let read = UnsafeRawBufferPointer(rebasing: bytes[..<count])
                    hasher.update(read)
                    blob?.update(read)
                }
            }
            if let size, total != size { throw IOError(errnoCode: EAGAIN, reason: "\(path) changed size while it was hashed") }
            return (hasher.finalize(), blob?.finalize())
        }
    }
}
