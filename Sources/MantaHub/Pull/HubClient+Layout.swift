import MantaStore

extension HubClient {
    /// The file's chunk layout, computed from its header read with ranged requests (`initialRead` bytes first,
    /// more if the header is longer), and the leading bytes read to compute it (none for formats without a header).
    func chunkLayout(
        of file: HubFile,
        at location: HubFileLocation,
        parameters: ChunkingParameters,
        initialRead: Int = ChunkPlanner.initialHeaderRead
    ) async throws -> (ChunkPlan, [UInt8]) {
        let size = UInt64(file.size)
        var prefix: [UInt8] = []
        while true {
            switch ChunkPlanner.plan(path: file.path, fileSize: size, prefix: prefix, parameters: parameters) {
            case .plan(let plan):
                return (plan, prefix)
            case .needHeader(let bytes):
                let wanted = min(size, UInt64(max(bytes, initialRead)))
                guard wanted > UInt64(prefix.count) else {
                    throw HubError.invalidResponse(
                        repo: location.repo, url: "\(location)", reason: "the header of '\(file.path)' needs \(bytes) bytes but the file has \(size)"
                    )
                }
                prefix += try await fetch(location, range: Int64(prefix.count)..<Int64(wanted)).readableBytesView
            }
        }
    }
}
