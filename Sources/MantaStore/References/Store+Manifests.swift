#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#endif

extension Store {
    func manifestPath(_ digest: Digest) -> String { "\(manifestsDirectory)/\(digest.hex).json" }

    /// Writes the manifest (once; it is content-addressed) and indexes its chunks. Returns its digest.
    @discardableResult
    public func put(_ manifest: Manifest) throws -> Digest {
        try put(manifest, durable: true).digest
    }

    /// Stores `manifest` unless it is there already, and says whether it was new. Without `durable`, the caller
    /// makes it durable (`syncFileSystem`) before a reference may name it, with whatever else it wrote.
    func put(_ manifest: Manifest, durable: Bool) throws -> (digest: Digest, new: Bool) {
        let (digest, new) = try writeOnce(manifest.canonicalJSON(), named: manifestPath, durable: durable)
        try database.recordManifest(digest, manifest)
        return (digest, new)
    }

    public func manifest(_ digest: Digest) throws -> Manifest {
        let path = manifestPath(digest)
        guard FileSystem.exists(path) else { throw StoreError.missingManifest(digest) }
        do {
            return try Manifest.decode(try FileSystem.readAll(path), expectedDigest: digest)
        } catch let error as ManifestError {
            throw StoreError.invalidManifest(digest, error)
        }
    }

    public func manifestBytes(_ digest: Digest) throws -> [UInt8] {
        let path = manifestPath(digest)
        guard FileSystem.exists(path) else { throw StoreError.missingManifest(digest) }
        return try FileSystem.readAll(path)
    }
}
