import CZstd

/// One-shot zstd compression of whole chunks.
public enum Zstd {
    public static let level: Int32 = 3

    /// The compressed bytes, or nil when compressing does not save at least `minimumSaving` of the input.
    public static func compress(_ input: UnsafeRawBufferPointer, minimumSaving: Double = 0.08) -> [UInt8]? {
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { ZSTD_compress($0.baseAddress, bound, input.baseAddress, input.count, level) }
        guard ZSTD_isError(written) == 0, Double(written) <= Double(input.count) * (1 - minimumSaving) else { return nil }
        output.removeLast(bound - written)
        return output
    }

    /// Decompresses a frame that must expand to exactly `expectedSize` bytes.
    public static func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: expectedSize)
        let written = output.withUnsafeMutableBytes { ZSTD_decompress($0.baseAddress, expectedSize, input.baseAddress, input.count) }
        guard ZSTD_isError(written) == 0 else {
            throw StoreError.compression(String(cString: ZSTD_getErrorName(written)))
        }
        guard written == expectedSize else {
            throw StoreError.compression("frame expands to \(written) bytes, expected \(expectedSize)")
        }
        return output
    }

    /// The decompressed size recorded in a frame header, if any.
    public static func frameContentSize(_ input: UnsafeRawBufferPointer) -> Int? {
        let size = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        guard size != ZSTD_CONTENTSIZE_ERROR, size != ZSTD_CONTENTSIZE_UNKNOWN, size <= UInt64(Int.max) else { return nil }
        return Int(size)
    }
}
