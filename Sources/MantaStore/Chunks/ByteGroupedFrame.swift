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
        let lowStart = headerSize
        let highStart = headerSize + header.planeSizes[0]
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
        let lowOut = lowBase.assumingMemoryBound(to: UInt8.self)
        let highOut = highBase.assumingMemoryBound(to: UInt8.self)
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
        let lowIn = lowBase.assumingMemoryBound(to: UInt8.self)
        let highIn = highBase.assumingMemoryBound(to: UInt8.self)
        let to = outBase.assumingMemoryBound(to: UInt8.self)
        for index in 0..<count {
            to[2 &* index] = lowIn[index]
            to[2 &* index &+ 1] = highIn[index]
        }
    }
}
