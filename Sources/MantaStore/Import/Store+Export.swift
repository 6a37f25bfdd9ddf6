#if canImport(Glibc)
import Glibc
#endif

extension Store {
    /// Writes the files of `reference` below `directory`, each checked chunk by chunk against its id and
    /// as a whole against its SHA-256. A file appears only when all of it is right: a bad chunk stops the
    /// export with an error naming the file and the chunk, and no bad byte is written.
    public func export(_ reference: RepoReference, to directory: String, progress: (UInt64) -> Void = { _ in }) throws {
        let (_, manifest) = try requireManifest(reference)
        try FileSystem.makeDirectories(directory)
        for file in manifest.files {
            let destination = "\(directory)/\(file.path)"
            let folder = FileSystem.parent(of: destination)
            try FileSystem.makeDirectories(folder)
            let temporary = "\(folder)/.\(FileSystem.temporaryName()).manta-export"
            do {
                let output = try FileDescriptor.open(temporary, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o644)
                var hasher = SHA256Hasher()
                for chunk in file.chunks {
                    let bytes = try read(chunk.id, file: file.path)
                    guard UInt64(bytes.count) == chunk.length else { throw StoreError.corruptChunk(file: file.path, chunk: chunk.id) }
                    try bytes.withUnsafeBytes { buffer in
                        hasher.update(buffer)
                        try output.write(buffer, at: chunk.offset)
                    }
                    progress(chunk.length)
                }
                guard hasher.finalize() == file.sha256 else {
                    throw StoreError.io(
                        path: file.path, operation: "check the SHA-256 of (the manifest's file hash does not match its chunks)", errno: EIO)
                }
                guard rename(temporary, destination) == 0 else { throw StoreError.fromErrno(errno, path: destination, operation: "rename") }
            } catch {
                unlink(temporary)
                throw error
            }
        }
        try touch(manifest.chunkIDs)
    }
}
