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

/// A way to damage a file in place, as a failing disk or a stray write would.
public enum FileDamage: Sendable, CustomStringConvertible {
    /// Flips the lowest bit of the byte at this fraction of the file's length.
    case flipByte(atFraction: Double)
    /// Keeps only this fraction of the file.
    case truncate(toFraction: Double)
    /// Writes `bytes` over the file from `offset`.
    case overwrite(offset: UInt64, bytes: [UInt8])

    public var description: String {
        switch self {
        case .flipByte(let fraction): "a byte flipped at \(fraction) of the file"
        case .truncate(let fraction): "truncated to \(fraction) of its length"
        case .overwrite(let offset, let bytes): "\(bytes.count) bytes overwritten at \(offset)"
        }
    }

    public func apply(to path: String) throws {
        chmod(path, 0o644)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        switch self {
        case .flipByte(let fraction):
            let offset = UInt64(Double(size) * fraction)
            try handle.seek(toOffset: offset)
            let byte = try handle.read(upToCount: 1)?.first ?? 0
            try handle.seek(toOffset: offset)
            try handle.write(contentsOf: [byte ^ 0x01])
        case .truncate(let fraction):
            try handle.truncate(atOffset: UInt64(Double(size) * fraction))
        case .overwrite(let offset, let bytes):
            try handle.seek(toOffset: offset)
            try handle.write(contentsOf: bytes)
        }
    }
}
