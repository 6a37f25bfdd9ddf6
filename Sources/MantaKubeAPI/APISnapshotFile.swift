import Foundation
import Logging
import MantaKube
import Synchronization

/// Where a persistent ``APIStore`` keeps its objects: one JSON snapshot, `<directory>/objects.json`, replaced
/// whole after each change (written to a temporary file, fsynced, renamed over the old one, the folder fsynced),
/// so a crash leaves either the previous snapshot or the new one, never a mixture.
///
/// Writes run on a serial dispatch queue, off the cooperative pool, and coalesce: changes made while one is being
/// written are saved together by the next. ``flush()`` waits for the last.
final class APISnapshotFile: Sendable {
    /// What is saved: the resource version the store had reached and every object, by collection and key.
    struct Snapshot: Codable, Sendable {
        var resourceVersion: Int64
        var objects: [String: [String: JSONValue]]
    }

    let path: String
    private let queue = DispatchQueue(label: "manta.api.snapshot")
    /// True while a write is queued but has not read the store yet.
    private let queued = Mutex(false)
    private let logger: Logger

    /// Opens `directory` (created 0700 if missing) and reads the snapshot there, if any.
    init(directory: String, logger: Logger) throws(APIStoreError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .unusable(path: directory, reason: "cannot create the folder: \(error.localizedDescription)")
        }
        path = (directory as NSString).appendingPathComponent("objects.json")
        self.logger = logger
    }

    /// The saved snapshot, or nil when none was saved yet.
    func load() throws(APIStoreError) -> Snapshot? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            return try JSONDecoder().decode(Snapshot.self, from: data)
        } catch {
            throw .unusable(path: path, reason: "the snapshot does not read as saved objects (\(error)); move it away to start empty")
        }
    }

    /// Saves what `read` returns, soon; calls while a save is queued share it.
    func schedule(_ read: @escaping @Sendable () -> Snapshot) {
        let first = queued.withLock { queued in
            defer { queued = true }
            return !queued
        }
        guard first else { return }
        queue.async { [self] in
            queued.withLock { $0 = false }
            do {
                try write(read())
            } catch {
                logger.error("cannot save the API objects", metadata: ["path": "\(path)", "error": "\(error)"])
            }
        }
    }

    /// Returns once every save scheduled before it is on disk.
    func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async { continuation.resume() }
        }
    }

    private func write(_ snapshot: Snapshot) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(snapshot)
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw APIStoreError.unusable(path: temporary, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        try data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { throw APIStoreError.unusable(path: temporary, reason: String(cString: strerror(errno))) }
                offset += written
            }
        }
        guard fsync(descriptor) == 0, rename(temporary, path) == 0 else {
            throw APIStoreError.unusable(path: path, reason: String(cString: strerror(errno)))
        }
        let folder = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
    }
}
