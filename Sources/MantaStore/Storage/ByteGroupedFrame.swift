import Synchronization

/// A chunk of 2-byte little-endian elements (BF16, FP16) stored as two byte planes compressed apart: the low
/// bytes (mantissa) are close to noise, while the high bytes (sign and exponent) take few values and
/// compress well once they are not interleaved with the noise.
///
///     0   "MBG"            magic
///     3   1                version
///     4   2                element size (stride); planes = stride
///     5   UInt64 LE        decoded length (even)
///     13  UInt32 LE × 2    compressed size of plane 0 (low bytes), plane 1 (high bytes)
///     21  plane 0 zstd frame, then plane 1 zstd frame; nothing after
enum ByteGroupedFrame {
    static let magic: [UInt8] = Array("MBG".utf8)
    static let version: UInt8 = 1
    static let stride = 2
    static let headerSize = 13 + 4 * stride

    struct Header {
        var length: UInt64
        var planeSizes: [Int]

        /// Reads the header at the start of `frame`, checking only what the header alone can show.
        init(_ frame: UnsafeRawBufferPointer) throws(ChunkDecodingError) {
            guard frame.count >= ByteGroupedFrame.headerSize else { throw .truncated(needed: ByteGroupedFrame.headerSize, available: frame.count) }
            guard frame.prefix(3).elementsEqual(ByteGroupedFrame.magic) else { throw .notByteGrouped }
            guard frame[3] == ByteGroupedFrame.version else { throw .unsupportedVersion(frame[3]) }
            guard Int(frame[4]) == ByteGroupedFrame.stride else { throw .unsupportedStride(frame[4]) }
            length = UInt64(littleEndian: frame.loadUnaligned(fromByteOffset: 5, as: UInt64.self))
            planeSizes = (0..<ByteGroupedFrame.stride).map { plane in
                Int(UInt32(littleEndian: frame.loadUnaligned(fromByteOffset: 13 + 4 * plane, as: UInt32.self)))
            }
        }
    }

    /// Plane buffers kept from one decode to the next. Allocating them for every chunk made glibc trim and
    /// fault its heap in again each time: verifying 1 GiB took 700,000 page faults and 1.4 s more system
    /// time than plain zstd. At most four are kept, none larger than four default chunks.
    private static let sparePlanes = Mutex<[ScratchBuffer]>([])
    private static let maximumSpares = 4
    private static let maximumSpareSize = 4 * Int(ChunkingParameters.defaultTargetSize)

    /// The chunk's bytes. Every size in the frame is checked against the others, the file's size and
    /// `expectedSize` before the decoded buffers are allocated.
    static func decode(_ frame: UnsafeRawBufferPointer, expectedSize: Int?) throws(ChunkDecodingError) -> [UInt8] {
        let header = try Header(frame)
        let count = try ChunkEncoding.checkedSize(header.length, expected: expectedSize)
        guard count % stride == 0 else { throw .framing("decoded length \(count) is not a multiple of \(stride)") }
        let framed = headerSize + header.planeSizes.reduce(0, +)
        guard framed <= frame.count else { throw .truncated(needed: framed, available: frame.count) }
        guard framed == frame.count else { throw .framing("\(frame.count - framed) bytes follow the last plane") }

        let half = count / stride
        let scratch = sparePlanes.withLock { $0.popLast() } ?? ScratchBuffer()
        defer {
            if scratch.memory.count <= maximumSpareSize { sparePlanes.withLock { if $0.count < maximumSpares { $0.append(scratch) } } }
        }
        let planes = scratch.reserve(count)
        let low = UnsafeMutableRawBufferPointer(rebasing: planes[0..<half])
        let high = UnsafeMutableRawBufferPointer(rebasing: planes[half..<count])
        let lowStart = headerSize, highStart = headerSize + header.planeSizes[0]
        try Zstd.decompress(UnsafeRawBufferPointer(rebasing: frame[lowStart..<highStart]), into: low)
        try Zstd.decompress(UnsafeRawBufferPointer(rebasing: frame[highStart..<framed]), into: high)
        return try ChunkEncoding.filledArray(count: count) { output in
            interleave(low: UnsafeRawBufferPointer(low), high: UnsafeRawBufferPointer(high), into: output)
        }
    }

    /// Splits `source` (an even number of bytes) into its even bytes (`low`) and odd bytes (`high`), each
    /// `source.count / 2` long.
    static func split(_ source: UnsafeRawBufferPointer, low: UnsafeMutableRawBufferPointer, high: UnsafeMutableRawBufferPointer) {
        let count = source.count / stride
        guard count > 0, let input = source.baseAddress, let lowBase = low.baseAddress, let highBase = high.baseAddress else { return }
        let from = input.assumingMemoryBound(to: UInt8.self)
        let lowOut = lowBase.assumingMemoryBound(to: UInt8.self), highOut = highBase.assumingMemoryBound(to: UInt8.self)
        // Wrapping arithmetic keeps overflow checks out of the loop, so the compiler can vectorise it.
        for index in 0..<count {
            lowOut[index] = from[2 &* index]
            highOut[index] = from[2 &* index &+ 1]
        }
    }

    /// The inverse of `split`.
    static func interleave(low: UnsafeRawBufferPointer, high: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        let count = low.count
        guard count > 0, let lowBase = low.baseAddress, let highBase = high.baseAddress, let outBase = output.baseAddress else { return }
        let lowIn = lowBase.assumingMemoryBound(to: UInt8.self), highIn = highBase.assumingMemoryBound(to: UInt8.self)
        let to = outBase.assumingMemoryBound(to: UInt8.self)
        for index in 0..<count {
            to[2 &* index] = lowIn[index]
            to[2 &* index &+ 1] = highIn[index]
        }
    }
}

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

/// Uninitialised memory that grows to the largest size asked for and is kept for the next use. It has one
/// owner at a time (an encoder, or a decode that took it from the spares), hence unchecked.
final class ScratchBuffer: @unchecked Sendable {
    private(set) var memory = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    /// At least `count` bytes, valid until the next call.
    func reserve(_ count: Int) -> UnsafeMutableRawBufferPointer {
        if memory.count < count {
            memory.deallocate()
            memory = .allocate(byteCount: count, alignment: 16)
        }
        return memory
    }

    deinit { memory.deallocate() }
}
