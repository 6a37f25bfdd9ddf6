import Foundation
import MantaStore

#if canImport(Glibc)
import Glibc
#endif

/// The chunks of one file that a pull has stored so far (peers following the pull read it too), so that a pull restarted after a crash (even
/// `kill -9`) skips them: ids are only known once bytes are hashed, so the layout alone cannot tell.
/// One line per chunk, `offset length id new`, appended with a single `write` after the chunk is stored;
/// a torn or foreign line is ignored, and an entry counts only if its chunk is still in the store.
public struct ResumeJournal: Sendable {
    public struct Entry: Hashable, Sendable {
        public var span: ChunkSpan
        public var id: ChunkID
        /// The chunk was written by the pull (not already in the store): dropped if the file fails its check.
        public var new: Bool

        public init(span: ChunkSpan, id: ChunkID, new: Bool) {
            self.span = span
            self.id = id
            self.new = new
        }
    }

    public let path: String

    /// `<store>/partial/<hash of repo, commit, file and chunk size>.journal`.
    public init(store: Store, repo: HubRepoID, commit: String, file: String) throws {
        let folder = store.root + "/partial"
        try FileSystem.makeDirectories(folder)
        let key = SHA256Hasher.hash(Array("\(repo)\u{0}\(commit)\u{0}\(file)\u{0}\(store.configuration.chunkSize)".utf8))
        path = "\(folder)/\(key.hex).journal"
    }

    public func entries() -> [Entry] {
        guard let bytes = try? FileSystem.readAll(path) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 4, let offset = UInt64(fields[0]), let length = UInt64(fields[1]),
                let id = Digest(hex: fields[2]), fields[3] == "0" || fields[3] == "1"
            else { return nil }
            return Entry(span: ChunkSpan(offset: offset, length: length), id: id, new: fields[3] == "1")
        }
    }

    public func append(_ entry: Entry) throws {
        let line = Array("\(entry.span.offset) \(entry.span.length) \(entry.id.hex) \(entry.new ? 1 : 0)\n".utf8)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw StoreError.io(path: path, operation: "open", errno: errno) }
        defer { close(descriptor) }
        let written = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == line.count else { throw StoreError.io(path: path, operation: "append to", errno: written < 0 ? errno : EIO) }
    }

    public func remove() { unlink(path) }
}
