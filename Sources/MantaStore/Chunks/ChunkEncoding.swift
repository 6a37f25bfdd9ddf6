/// How a chunk's bytes are kept in its file. The file name's suffix says which, so every reader knows how to
/// decode a file from its name alone, and a store whose setting changed holds all of them side by side.
public enum ChunkEncoding: Sendable, Hashable, CaseIterable {
    /// The chunk's bytes as they are.
    case plain
    /// One zstd frame, readable by `zstd -d`.
    case zstd
    /// Two-byte elements split into a low-byte and a high-byte plane, each one zstd frame (`ByteGroupedFrame`).
    case byteGrouped

    public var suffix: String {
        switch self {
        case .plain: ""
        case .zstd: ".zst"
        case .byteGrouped: ".zbg"
        }
    }

    /// The id and encoding of the chunk file called `name` (`<64 hex>[suffix]`), nil for any other name.
    public static func parse(fileName name: String) -> (id: ChunkID, encoding: ChunkEncoding)? {
        for encoding in allCases where encoding != .plain && name.hasSuffix(encoding.suffix) {
            return Digest(hex: name.dropLast(encoding.suffix.count)).map { ($0, encoding) }
        }
        return Digest(hex: name).map { ($0, .plain) }
    }

    /// No chunk the planners make is larger: targets are at most 64 MiB and header chunks at most
    /// `ChunkPlanner.maximumHeaderSize` (100 MiB) plus a few bytes. A stored file claiming more is corrupt,
    /// and is refused before anything that size is allocated.
    public static let maximumChunkSize = 128 << 20

    /// The chunk's bytes from the bytes of its stored file: the one decoder that the store, the mount and
    /// the peer server share. Sizes recorded in the file are checked against `expectedSize` (when the
    /// caller knows it from a manifest) and `maximumChunkSize` before they are believed. The result is
    /// not hashed here: callers check it against the chunk id.
    public func decode(_ stored: [UInt8], expectedSize: Int? = nil) throws(ChunkDecodingError) -> [UInt8] {
        switch self {
        case .plain:
            if let expectedSize, stored.count != expectedSize {
                throw .wrongDecodedSize(actual: UInt64(stored.count), expected: expectedSize)
            }
            return stored
        case .zstd:
            return try Self.withBytes(stored) { input throws(ChunkDecodingError) in
                guard let size = Zstd.frameContentSize(input) else { throw .zstd("no frame header with a content size") }
                let count = try Self.checkedSize(size, expected: expectedSize)
                return try Self.filledArray(count: count) { output throws(ChunkDecodingError) in try Zstd.decompress(input, into: output) }
            }
        case .byteGrouped:
            return try Self.withBytes(stored) { input throws(ChunkDecodingError) in try ByteGroupedFrame.decode(input, expectedSize: expectedSize) }
        }
    }

    /// The chunk's decoded size as its stored file's first `sizeHeaderBytes` bytes state it (for recovery,
    /// which indexes files it finds without decoding them), nil when they state none.
    static func statedSize(_ prefix: UnsafeRawBufferPointer, encoding: ChunkEncoding) -> UInt64? {
        switch encoding {
        case .plain: nil
        case .zstd: Zstd.frameContentSize(prefix)
        case .byteGrouped: try? ByteGroupedFrame.Header(prefix).length
        }
    }

    /// Enough of a stored file for `statedSize` (a zstd frame header is at most 18 bytes).
    static let sizeHeaderBytes = max(18, ByteGroupedFrame.headerSize)

    static func checkedSize(_ stated: UInt64, expected: Int?) throws(ChunkDecodingError) -> Int {
        guard stated <= UInt64(maximumChunkSize) else { throw .implausibleSize(stated: stated, limit: maximumChunkSize) }
        if let expected, stated != UInt64(expected) { throw .wrongDecodedSize(actual: stated, expected: expected) }
        return Int(stated)
    }

    /// `withUnsafeBytes` keeping the typed error (its own signature rethrows as `any Error`).
    private static func withBytes<R>(
        _ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(ChunkDecodingError) -> R
    ) throws(ChunkDecodingError) -> R {
        let result: Result<R, ChunkDecodingError> = bytes.withUnsafeBytes { buffer in Result { () throws(ChunkDecodingError) in try body(buffer) } }
        return try result.get()
    }

    /// A new array of `count` bytes, every one written by `body` (so none is zeroed first for nothing).
    static func filledArray(
        count: Int, _ body: (UnsafeMutableRawBufferPointer) throws(ChunkDecodingError) -> Void
    ) throws(ChunkDecodingError) -> [UInt8] {
        var failure: ChunkDecodingError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let result = Result { () throws(ChunkDecodingError) in try body(UnsafeMutableRawBufferPointer(buffer)) }
            if case .failure(let error) = result { failure = error }
            initialized = failure == nil ? count : 0
        }
        if let failure { throw failure }
        return bytes
    }
}

/// Why a stored chunk file does not decode. The file is corrupt: `manta verify` quarantines it, and the
/// model's chunk comes back with a pull (or a new import).
public enum ChunkDecodingError: Error, Hashable, CustomStringConvertible {
    case truncated(needed: Int, available: Int)
    case notByteGrouped
    case unsupportedVersion(UInt8)
    case unsupportedStride(UInt8)
    case implausibleSize(stated: UInt64, limit: Int)
    case wrongDecodedSize(actual: UInt64, expected: Int)
    case framing(String)
    case zstd(String)

    public var description: String {
        let problem =
            switch self {
            case .truncated(let needed, let available): "file is truncated: \(available) bytes where the frame needs at least \(needed)"
            case .notByteGrouped: "file does not start with the byte-grouped frame's magic"
            case .unsupportedVersion(let version): "byte-grouped frame version \(version) is not one this manta reads (1): upgrade manta"
            case .unsupportedStride(let stride): "byte-grouped frame has element size \(stride); only 2 is written or read"
            case .implausibleSize(let stated, let limit): "file claims \(stated) decoded bytes, more than any chunk (\(limit))"
            case .wrongDecodedSize(let actual, let expected): "file decodes to \(actual) bytes where the chunk has \(expected)"
            case .framing(let message): "byte-grouped frame is inconsistent: \(message)"
            case .zstd(let message): "zstd: \(message)"
            }
        return "stored chunk file does not decode (\(problem)): run `manta verify` to quarantine it, then pull or import the model again"
    }
}
