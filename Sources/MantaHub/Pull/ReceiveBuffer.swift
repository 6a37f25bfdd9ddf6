/// One chunk's bytes, reused from chunk to chunk by one stream so that a pull allocates a buffer per
/// stream rather than per chunk. Unchecked `Sendable`: the stream fills it only between awaits, and hands
/// it to a thread only while it awaits that thread's work.
final class ReceiveBuffer: @unchecked Sendable {
    private var storage: UnsafeMutableRawBufferPointer
    private(set) var count = 0

    init(capacity: Int) {
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: max(capacity, 1), alignment: 4096)
    }

    deinit { storage.deallocate() }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage[..<count]) }

    /// Empties the buffer and makes room for `capacity` bytes.
    func reset(capacity: Int) {
        count = 0
        guard capacity > storage.count else { return }
        storage.deallocate()
        storage = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 4096)
    }

    /// Appends as much of `source` as fits in `limit` bytes; returns how much that was.
    func append(_ source: UnsafeRawBufferPointer, upTo limit: Int) -> Int {
        let taken = min(source.count, limit - count, storage.count - count)
        guard taken > 0, let base = source.baseAddress else { return 0 }
        UnsafeMutableRawBufferPointer(rebasing: storage[count..<(count + taken)]).copyMemory(from: UnsafeRawBufferPointer(start: base, count: taken))
        count += taken
        return taken
    }
}
