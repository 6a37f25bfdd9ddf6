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

        /// Parses `offset length id new`; nil for a torn or foreign line.
        init?(line: Substring) {
            let fields = line.split(separator: " ")
            guard fields.count == 4, let offset = UInt64(fields[0]), let length = UInt64(fields[1]),
                let id = Digest(hex: fields[2]), fields[3] == "0" || fields[3] == "1"
            else { return nil }
            self.init(span: ChunkSpan(offset: offset, length: length), id: id, new: fields[3] == "1")
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
        var start = ReadPosition()
        return entries(since: &start).entries
    }

    /// How far a reader has read the journal, so that it reads only what was appended since.
    public struct ReadPosition: Sendable {
        var inode: UInt64 = 0
        var offset = 0

        public init() {}
    }

    /// The entries appended since `position`, which moves past them: only whole lines, so a line being
    /// written is read next time. A journal removed (or started again) is read from its start, and
    /// `fromStart` says so: what was read of it before no longer counts.
    public func entries(since position: inout ReadPosition) -> (entries: [Entry], fromStart: Bool) {
        guard let file = try? FileDescriptor.open(path, flags: O_RDONLY) else {
            position = ReadPosition()
            return ([], true)
        }
        var information = stat()
        guard fstat(file.raw, &information) == 0 else { return ([], false) }
        var fromStart = position.offset == 0
        if UInt64(information.st_ino) != position.inode || Int(information.st_size) < position.offset {
            position = ReadPosition()
            position.inode = UInt64(information.st_ino)
            fromStart = true
        }
        let count = Int(information.st_size) - position.offset
        guard count > 0, let bytes = try? file.read(count: count, at: UInt64(position.offset)),
            let lastNewline = bytes.lastIndex(of: UInt8(ascii: "\n"))
        else { return ([], fromStart) }
        position.offset += lastNewline + 1
        return (String(decoding: bytes[...lastNewline], as: UTF8.self).split(separator: "\n").compactMap(Entry.init(line:)), fromStart)
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
