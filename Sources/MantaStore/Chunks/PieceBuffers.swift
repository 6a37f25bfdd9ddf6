import Synchronization

/// Aligned buffers that chunks go through a piece at a time past the page cache: one in unaligned memory (from a
/// peer) copied in to be written, one read back to be hashed. Kept for the store's life, one per thread that has
/// used one at once, so that no chunk needs fresh memory. A buffer belongs to the one caller that took it until it is given back.
final class PieceBuffers: Sendable {
    static let pieceBytes = 1 << 20

    /// A buffer that no caller holds.
    private struct Free: @unchecked Sendable {
        let buffer: UnsafeMutableRawBufferPointer
    }

    private let free = Mutex<[Free]>([])

    deinit { free.withLock { $0.forEach { $0.buffer.deallocate() } } }

    /// Runs `body` with a buffer of its own of `pieceBytes`, aligned to 4 KiB.
    func withBuffer<T>(_ body: (UnsafeMutableRawBufferPointer) throws -> T) rethrows -> T {
        let buffer =
            free.withLock { $0.popLast()?.buffer } ?? UnsafeMutableRawBufferPointer.allocate(byteCount: Self.pieceBytes, alignment: 4096)
        defer { free.withLock { $0.append(Free(buffer: buffer)) } }
        return try body(buffer)
    }
}
