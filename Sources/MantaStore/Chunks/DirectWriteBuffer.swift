#if canImport(Glibc)
import Glibc
#endif

/// Memory for chunk bytes on their way to an `O_DIRECT` write: aligned for it, and in huge pages where the
/// kernel allows. Touching fresh 4 KiB pages costs about 0.5 ms per MiB on a VM whose host backs memory lazily,
/// as much as hashing it; in 2 MiB pages, about a fifth of that (benchmarks/RESULTS.md, Import). Only whole huge
/// pages are advised: a chunk a little over the target size would otherwise make a third one resident.
///
/// `@unchecked Sendable`: one thread at a time uses it.
final class DirectWriteBuffer: @unchecked Sendable {
    static let hugePageBytes = 2 << 20

    /// `bytes` bytes, aligned to a huge page.
    let chunk: UnsafeMutableRawBufferPointer

    /// Room for `bytes` bytes.
    init(_ bytes: Int) {
        let size = (max(bytes, 1) + 4095) & ~4095
        chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: Self.hugePageBytes)
        // Advice only: without transparent huge pages the buffer is in 4 KiB pages, and works the same.
        _ = madvise(chunk.baseAddress, size & ~(Self.hugePageBytes - 1), MADV_HUGEPAGE)
    }

    deinit { chunk.deallocate() }
}
