import Foundation
import MantaStore

/// What a store changed behind Manta's back looks like when done thoroughly: a file's bytes replaced by others of the
/// same size, stored as a chunk under its own id, with a manifest whose SHA-256 and chunks match them and whose
/// other fields (the hub's git blob id among them) are kept. Every chunk and manifest hash then checks out.
public enum TamperedModel {
    /// Changes `path` of the model `reference` names in `store` (one byte of its `original` bytes flipped to
    /// another letter) and points `reference` at the new manifest. Returns the changed bytes. Blocking.
    @discardableResult
    public static func change(_ path: String, original: [UInt8], of reference: RepoReference, in store: Store) throws -> [UInt8] {
        let (_, manifest) = try store.requireManifest(reference)
        var bytes = original
        let middle = bytes.count / 2
        bytes[middle] = bytes[middle] == UInt8(ascii: "x") ? UInt8(ascii: "y") : UInt8(ascii: "x")
        let id = SHA256Hasher.hash(bytes)
        _ = try bytes.withUnsafeBytes { try store.put(id, bytes: $0) }
        let files = manifest.files.map { file in
            guard file.path == path else { return file }
            return Manifest.File(
                path: path, size: UInt64(bytes.count), sha256: id, scheme: file.scheme,
                chunks: [Manifest.Chunk(offset: 0, length: UInt64(bytes.count), id: id)], gitBlobID: file.gitBlobID
            )
        }
        let changed = Manifest(source: manifest.source, chunkSize: manifest.chunkSize, files: files)
        try store.setReference(reference, to: try store.put(changed), pinned: true)
        return bytes
    }
}
