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
