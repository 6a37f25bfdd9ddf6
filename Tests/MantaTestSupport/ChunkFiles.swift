import Foundation
import MantaStore

/// The chunk files of a store as they lie on disk, read without opening the store.
public enum ChunkFiles {
    public struct Entry: Sendable, Hashable {
        public var id: ChunkID
        public var encoding: ChunkEncoding
        public var path: String
    }

    /// Every file in `<storeRoot>/chunks` whose name is a chunk file name.
    public static func list(storeRoot: String) -> [Entry] {
        let folder = storeRoot + "/chunks"
        var entries: [Entry] = []
        for prefix in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "\(folder)/\(prefix)")) ?? [] {
                if let (id, encoding) = ChunkEncoding.parse(fileName: name) {
                    entries.append(Entry(id: id, encoding: encoding, path: "\(folder)/\(prefix)/\(name)"))
                }
            }
        }
        return entries
    }

    /// How many chunk files the store has in each encoding.
    public static func encodingCounts(storeRoot: String) -> [ChunkEncoding: Int] {
        list(storeRoot: storeRoot).reduce(into: [:]) { counts, entry in counts[entry.encoding, default: 0] += 1 }
    }
}
