import MantaStore
import MantaWire

/// Input: one selector byte (even: a swarm answer, odd: a swarm query), then JSON, through the checks the peer
/// client and server make. What they let through must be safe for the follower's arithmetic.
enum SwarmTarget {
    /// The query the answer is checked against: one file whose size the asker knows, one it does not.
    static let query = SwarmQuery(
        repo: "org/model", commit: String(repeating: "0", count: 40), chunkSize: 4 << 20, files: ["model.safetensors", "config.json"])
    static let fileSizes: [String: UInt64] = ["model.safetensors": 5 << 30]

    static func run(_ input: inout FuzzInput) throws(InvariantViolation) {
        let isQuery = input.byte() & 1 == 1
        let bytes = input.rest
        if isQuery {
            guard let query = try? SwarmQuery.decode(bytes) else { return }
            guard query.seen?.values.allSatisfy({ $0 >= 0 }) ?? true, query.files.allSatisfy(Manifest.isSafeRelativePath) else {
                throw InvariantViolation(target: .swarm, message: "a query with a negative seen count or an unsafe path was accepted")
            }
            return
        }
        let maximumChunkSize = UInt64(ChunkEncoding.maximumChunkSize)
        guard let status = try? SwarmStatus.decode(bytes, answering: query, maximumChunkSize: maximumChunkSize, fileSizes: fileSizes) else { return }
        for (file, chunks) in status.chunks {
            let size = fileSizes[file] ?? Manifest.maximumLogicalSize
            for chunk in chunks {
                let (end, overflow) = chunk.offset.addingReportingOverflow(chunk.length)
                guard !overflow, end <= size, chunk.length > 0, chunk.length <= maximumChunkSize else {
                    throw InvariantViolation(
                        target: .swarm, message: "'\(file)': chunk \(chunk.offset)+\(chunk.length) was accepted for a \(size)-byte file")
                }
            }
        }
    }
}
