/// One chunk's bytes, reused from chunk to chunk by one stream (of a hub pull, or a worker taking chunks from peers)
/// so that a pull allocates a buffer per stream rather than per chunk; aligned, so that the chunk is written past
/// the page cache without a copy. Unchecked `Sendable`: the stream fills it only between awaits, and hands it to a
/// thread only while it awaits that thread's work.
package final class ReceiveBuffer: @unchecked Sendable {
    private var storage: UnsafeMutableRawBufferPointer
    package private(set) var count = 0

    package init(capacity: Int) {
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(capacity, 1), alignment: 4096)
    }

    deinit { storage.deallocate() }

    package var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[..<count]) }

    /// Empties the buffer and makes room for `capacity` bytes.
    package func reset(capacity: Int) {
        count = 0
        guard capacity > storage.count else { return }
        storage.deallocate()
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 4096)
    }

    /// Appends as much of `source` as fits in `limit` bytes; returns how much that was.
    package func append(_ source: UnsafeRawBufferPointer, upTo limit: Int) -> Int {
        let taken = min(source.count, limit - count, storage.count - count)
        guard taken > 0, let base = source.baseAddress else { return 0 }
        UnsafeMutableRawBufferPointer(rebasing: storage[count..<(count + taken)]).copyMemory(from: UnsafeRawBufferPointer(start: base, count: taken))
        count += taken
        return taken
    }
}
