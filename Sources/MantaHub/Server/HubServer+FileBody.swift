import Hummingbird
import NIOCore
import _NIOFileSystem

extension HubServer {
    /// Read size per write: small enough that the rate limit is smooth, large enough to stream at disk speed.
    static let bodyChunkLength = 64 * 1024

    /// Streams `range` of `file` from disk: each piece is written only after the previous one was accepted
    /// by the connection, so a slow client holds at most a chunk or two in memory.
    func fileBody(_ file: ServedFile, repo: HubRepoID, range: ClosedRange<Int64>, fault: HubFault?) -> ResponseBody {
        let statistics = statistics
        let rateLimit = rateLimit
        return ResponseBody(contentLength: range.count) { writer in
            try await FileSystem.shared.withFileHandle(forReadingAt: FilePath(file.diskPath)) { handle in
                var sent = 0
                let chunks = handle.readChunks(in: range, chunkLength: .bytes(Int64(Self.bodyChunkLength)))
                for try await chunk in chunks {
                    var chunk = chunk
                    var cutAfterThisChunk = false
                    if case .resetAfter(let limit) = fault, sent + chunk.readableBytes > limit {
                        chunk = chunk.getSlice(at: chunk.readerIndex, length: max(0, limit - sent)) ?? ByteBuffer()
                        cutAfterThisChunk = true
                    }
                    if case .corruptBody = fault, sent == 0, chunk.readableBytes > 0 {
                        chunk.setInteger(~(chunk.getInteger(at: chunk.readerIndex, as: UInt8.self) ?? 0), at: chunk.readerIndex)
                    }
                    try await rateLimit?.acquire(chunk.readableBytes)
                    try await writer.write(chunk)
                    statistics.recordBody(repo: repo, path: file.path, bytes: chunk.readableBytes)
                    sent += chunk.readableBytes
                    if cutAfterThisChunk {
                        // Let the bytes reach the socket first: closing drops writes still queued in the channel.
                        try await Task.sleep(for: .milliseconds(50))
                        throw InjectedConnectionReset(afterBytes: sent)
                    }
                }
            }
            try await writer.finish(nil)
        }
    }
}

/// Thrown from a body writer to make the server drop the connection mid-body.
struct InjectedConnectionReset: Error, CustomStringConvertible {
    var afterBytes: Int
    var description: String { "injected fault: connection reset after \(afterBytes) body bytes" }
}
