#if canImport(Glibc)
import Glibc
#endif

/// Sends the bytes of a read in one `writev` to the FUSE device, straight from the chunks' mappings and decoded
/// buffers: the kernel copies each byte once, into the mount's page cache. (Splicing the chunk files through a
/// pipe costs the same copy, but a pipe holds at most `/proc/sys/fs/pipe-max-size`, 1 MiB by default, which caps
/// reads below what a FUSE request can carry; and replies of 1 MiB spliced slower than these.)
///
/// Once sent, the chunk files' pages that were copied are dropped from the page cache (and from the mount's
/// mappings, without which the kernel would keep them): the mount's page cache now holds those bytes, and keeping
/// both would cache every byte read twice.
enum FuseReadReply {
    /// `writev` takes at most this many vectors (UIO_MAXIOV), the reply's header among them.
    private static let maximumVectors = 1024

    static func send(_ reply: FuseReply, _ slices: [ModelFileSystem.ReadSlice]) {
        guard slices.count < maximumVectors else { return sendCopied(reply, slices) }
        var vectors: [iovec] = []
        vectors.reserveCapacity(slices.count)
        withVectors(slices[...], &vectors) { vectors in
            reply.channel.send(unique: reply.unique, error: 0, payload: vectors)
        }
        for slice in slices { dropCachedPages(slice) }
    }

    /// A read of more tiny chunks than `writev` takes vectors: gathered into one buffer first.
    private static func sendCopied(_ reply: FuseReply, _ slices: [ModelFileSystem.ReadSlice]) {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(slices.reduce(0) { $0 + $1.count })
        for slice in slices {
            withBytes(slice) {
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[Int(slice.offset)..<(Int(slice.offset) + slice.count)]))
            }
        }
        buffer.withUnsafeBytes { reply.send(bytes: $0) }
        for slice in slices { dropCachedPages(slice) }
    }

    private static func withBytes(_ slice: ModelFileSystem.ReadSlice, _ body: (UnsafeRawBufferPointer) -> Void) {
        switch slice.data {
        case .file(let file): withExtendedLifetime(file) { body(file.bytes) }
        case .memory(let decoded): decoded.bytes.withUnsafeBytes(body)
        }
    }

    /// Calls `body` with an iovec per slice, each valid only inside the call.
    private static func withVectors(_ slices: ArraySlice<ModelFileSystem.ReadSlice>, _ vectors: inout [iovec], _ body: ([iovec]) -> Void) {
        guard let slice = slices.first else { return body(vectors) }
        let rest = slices.dropFirst()
        withBytes(slice) { bytes in
            vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress.map { $0 + Int(slice.offset) }), iov_len: slice.count))
            withVectors(rest, &vectors, body)
        }
    }

    /// Drops the whole pages of a file slice from the mapping and the page cache; the partial pages at its ends
    /// stay, since the neighbouring reads share them.
    private static func dropCachedPages(_ slice: ModelFileSystem.ReadSlice) {
        guard case .file(let file) = slice.data, let base = file.bytes.baseAddress else { return }
        let page = UInt64(getpagesize())
        let start = (slice.offset + page - 1) / page * page
        let end = (slice.offset + UInt64(slice.count)) / page * page
        guard start < end else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + Int(start)), Int(end - start), MADV_DONTNEED)
        posix_fadvise(file.descriptor, off_t(start), off_t(end - start), POSIX_FADV_DONTNEED)
    }
}
