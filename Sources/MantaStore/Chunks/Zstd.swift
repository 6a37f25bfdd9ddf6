import CZstd

/// One-shot zstd (de)compression of whole chunks and byte planes.
enum Zstd {
    static let level: Int32 = 3

    static func compressBound(_ count: Int) -> Int { ZSTD_compressBound(count) }

    /// Decompresses one frame that must fill `output` exactly.
    static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(ChunkDecodingError) {
        let written = ZSTD_decompress(output.baseAddress, output.count, input.baseAddress, input.count)
        guard ZSTD_isError(written) == 0 else { throw .zstd(String(cString: ZSTD_getErrorName(written))) }
        guard written == output.count else { throw .wrongDecodedSize(actual: UInt64(written), expected: output.count) }
    }

    /// The decompressed size recorded in a frame header, if any.
    static func frameContentSize(_ input: UnsafeRawBufferPointer) -> UInt64? {
        let size = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        guard size != ZSTD_CONTENTSIZE_ERROR, size != ZSTD_CONTENTSIZE_UNKNOWN else { return nil }
        return size
    }
}

/// A zstd compression context kept from one chunk to the next: creating one per chunk would allocate and
/// initialise its tables (about a MiB at level 3) thousands of times per import. Used by one thread at a time.
final class ZstdCompressor {
    private let context: OpaquePointer

    init() {
        // ZSTD_createCCtx fails only when malloc does, which Swift treats as fatal everywhere else too.
        guard let context = ZSTD_createCCtx() else { preconditionFailure("ZSTD_createCCtx: out of memory") }
        self.context = context
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Compresses `input` into `output` (at least `Zstd.compressBound(input.count)` bytes); returns the size written.
    func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        let written = ZSTD_compressCCtx(context, output.baseAddress, output.count, input.baseAddress, input.count, Zstd.level)
        return ZSTD_isError(written) == 0 ? written : nil
    }
}
