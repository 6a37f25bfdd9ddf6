import MantaStore
import NIOCore

extension HubClient {
    /// Reads consecutive chunk spans of a file with one ranged request (resumed after failures) and hands
    /// each span's bytes to `each` as soon as they are all in, in order, with the span's index in `spans`.
    /// Only one span is held in memory at a time; the next bytes are not read until `each` returns.
    func streamSpans(_ location: HubFileLocation, spans: [ChunkSpan], each: (Int, [UInt8]) async throws -> Void) async throws {
        guard let first = spans.first, let last = spans.last else { return }
        var index = 0
        var pending = [UInt8]()
        pending.reserveCapacity(Int(first.length))
        try await stream(location, range: Int64(first.offset)..<Int64(last.end)) { buffer in
            var buffer = buffer
            while buffer.readableBytes > 0, index < spans.count {
                let wanted = Int(spans[index].length) - pending.count
                buffer.readWithUnsafeReadableBytes { raw in
                    let taken = min(wanted, raw.count)
                    pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[..<taken]))
                    return taken
                }
                guard pending.count == Int(spans[index].length) else { continue }
                let complete = pending
                index += 1
                pending = []
                if index < spans.count { pending.reserveCapacity(Int(spans[index].length)) }
                try await each(index - 1, complete)
            }
        }
    }
}
