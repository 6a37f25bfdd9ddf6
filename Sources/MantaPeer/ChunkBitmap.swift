import HTTPTypes

/// Which chunks of a manifest a node has: bit i, most significant first, for chunk i of the manifest's
/// sorted distinct chunk ids.
public struct ChunkBitmap: Hashable, Sendable {
    public static let countHeader = HTTPField.Name("X-Manta-Chunk-Count")!

    public private(set) var bytes: [UInt8]
    public let count: Int

    public init(_ present: [Bool]) {
        count = present.count
        bytes = [UInt8](repeating: 0, count: (present.count + 7) / 8)
        for (index, has) in present.enumerated() where has {
            bytes[index / 8] |= 0x80 >> UInt8(index % 8)
        }
    }

    /// Nil when `bytes` does not hold exactly `count` bits: the peer sent garbage. `count` comes from a header,
    /// so it is divided, never added to (`Int.max + 7` would trap).
    public init?(bytes: [UInt8], count: Int) {
        guard count >= 0, bytes.count == count / 8 + (count % 8 == 0 ? 0 : 1) else { return nil }
        self.bytes = bytes
        self.count = count
    }

    public subscript(index: Int) -> Bool {
        index < count && bytes[index / 8] & (0x80 >> UInt8(index % 8)) != 0
    }

    public var presentCount: Int { (0..<count).filter { self[$0] }.count }
}
