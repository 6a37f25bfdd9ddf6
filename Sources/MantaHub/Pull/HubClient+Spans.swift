import MantaStore
import MantaTransfer
import NIOCore

extension HubClient {
    /// Reads consecutive chunk spans of a file with one ranged request (resumed after failures) and hands
    /// each span's bytes to `each` as soon as they are all in, in order, with the span's index in `spans`.
    /// Two buffers alternate: while `each` stores one chunk (on a thread), the next chunk's bytes arrive
    /// in the other, so a stream never stalls on the disk; at most one `each` runs at a time, and a buffer
    /// is refilled only after its `each` returned.
    func streamSpans(
        _ location: HubFileLocation,
        spans: [ChunkSpan],
        buffers: (ReceiveBuffer, ReceiveBuffer),
        each: @escaping @Sendable (Int, ReceiveBuffer) async throws -> Void
    ) async throws {
        guard let first = spans.first, let last = spans.last else { return }
        var index = 0
        var (filling, spare) = buffers
        var storing: Task<Void, any Error>?
        filling.reset(capacity: Int(first.length))
        do {
            try await stream(location, range: Int64(first.offset)..<Int64(last.end)) { received in
                var received = received
                while received.readableBytes > 0, index < spans.count {
                    let length = Int(spans[index].length)
                    received.readWithUnsafeReadableBytes { filling.append($0, upTo: length) }
                    guard filling.count == length else { continue }
                    try await storing?.value
                    let (chunk, full) = (index, filling)
                    storing = Task { try await each(chunk, full) }
                    swap(&filling, &spare)
                    index += 1
                    if index < spans.count { filling.reset(capacity: Int(spans[index].length)) }
                }
            }
        } catch {
            _ = await storing?.result
            throw error
        }
        try await storing?.value
    }
}
