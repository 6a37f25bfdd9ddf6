import Synchronization

/// Encodes chunks as the store's compression setting asks, keeping one zstd context and its buffers from
/// one chunk to the next. Used by one thread at a time (each `ChunkWriteBatch` has its own).
final class ChunkEncoder {
    /// A chunk is stored encoded only when that saves at least this fraction of its bytes.
    static let minimumSaving = 0.08

    private let compression: StoreConfiguration.Compression
    private lazy var compressor = ZstdCompressor()
    private let whole = ScratchBuffer()
    private let planes = ScratchBuffer()
    private let grouped = ScratchBuffer()

    init(compression: StoreConfiguration.Compression) {
        self.compression = compression
    }

    /// Calls `body` with the encoding to store `bytes` in and the bytes to write (valid only during the call):
    /// the smaller of plain zstd and, for `zstdBytegroup` and an even length, the byte-grouped frame; or
    /// the bytes themselves when that saves less than `minimumSaving`.
    func withEncoded<R>(_ bytes: UnsafeRawBufferPointer, _ body: (ChunkEncoding, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var best = (encoding: ChunkEncoding.plain, stored: bytes)
        let limit = Int(Double(bytes.count) * (1 - Self.minimumSaving))
        let (tryZstd, tryGrouped) = candidates(for: bytes)
        if tryZstd, let size = compressWhole(bytes), size <= limit {
            best = (.zstd, UnsafeRawBufferPointer(rebasing: whole.memory[0..<size]))
        }
        if tryGrouped, let size = group(bytes), size <= limit, best.encoding == .plain || size < best.stored.count {
            best = (.byteGrouped, UnsafeRawBufferPointer(rebasing: grouped.memory[0..<size]))
        }
        return try body(best.encoding, best.stored)
    }

    /// Bytes from the middle of a chunk compressed both ways to choose between them.
    static let probeSize = 64 << 10

    /// Which encodings to compute for `bytes`. Computing both for every chunk more than doubled the time of
    /// an import, so a chunk of at least four probes is compressed both ways only when a probe from its
    /// middle does not show one clearly (by 2% of the probe) smaller: a tensor chunk holds one kind of data
    /// throughout, and the probe costs 1/32 of a 4 MiB chunk's two passes.
    private func candidates(for bytes: UnsafeRawBufferPointer) -> (zstd: Bool, grouped: Bool) {
        guard compression == .zstdBytegroup, bytes.count % ByteGroupedFrame.stride == 0 else { return (compression != .none, false) }
        guard bytes.count >= 4 * Self.probeSize else { return (true, true) }
        let start = bytes.count / 2 / ByteGroupedFrame.stride * ByteGroupedFrame.stride
        let probe = UnsafeRawBufferPointer(rebasing: bytes[start..<start + Self.probeSize])
        guard let plain = compressWhole(probe), let grouped = group(probe) else { return (true, true) }
        let margin = Self.probeSize / 50
        if grouped + margin < plain { return (false, true) }
        if plain + margin < grouped { return (true, false) }
        return (true, true)
    }

    private func compressWhole(_ bytes: UnsafeRawBufferPointer) -> Int? {
        compressor.compress(bytes, into: whole.reserve(Zstd.compressBound(bytes.count)))
    }

    /// Writes the byte-grouped frame of `bytes` into `grouped`; returns its size, nil for an odd length.
    private func group(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count % ByteGroupedFrame.stride == 0 else { return nil }
        let half = bytes.count / ByteGroupedFrame.stride
        let split = planes.reserve(bytes.count)
        let low = UnsafeMutableRawBufferPointer(rebasing: split[0..<half])
        let high = UnsafeMutableRawBufferPointer(rebasing: split[half..<bytes.count])
        ByteGroupedFrame.split(bytes, low: low, high: high)

        let bound = Zstd.compressBound(half)
        let frame = grouped.reserve(ByteGroupedFrame.headerSize + 2 * bound)
        var offset = ByteGroupedFrame.headerSize
        var planeSizes: [Int] = []
        for plane in [low, high] {
            let destination = UnsafeMutableRawBufferPointer(rebasing: frame[offset..<offset + bound])
            guard let size = compressor.compress(UnsafeRawBufferPointer(plane), into: destination), size <= Int(UInt32.max) else { return nil }
            planeSizes.append(size)
            offset += size
        }
        frame.copyBytes(from: ByteGroupedFrame.magic)
        frame[3] = ByteGroupedFrame.version
        frame[4] = UInt8(ByteGroupedFrame.stride)
        frame.storeBytes(of: UInt64(bytes.count).littleEndian, toByteOffset: 5, as: UInt64.self)
        for (plane, size) in planeSizes.enumerated() {
            frame.storeBytes(of: UInt32(size).littleEndian, toByteOffset: 13 + 4 * plane, as: UInt32.self)
        }
        return offset
    }
}
