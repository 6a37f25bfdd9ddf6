extension HubServer {
    /// Runs the server for the duration of `body`, which gets the bound address (port 0 gets a free port).
    /// Meant for tests and tools that need a hub in-process.
    public func withRunning<Result: Sendable>(_ body: (HubServerAddress) async throws -> Result) async throws -> Result {
        let (addresses, continuation) = AsyncStream.makeStream(of: HubServerAddress.self)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { continuation.finish() }
                try await self.run { address in continuation.yield(address) }
            }
            var iterator = addresses.makeAsyncIterator()
            guard let address = await iterator.next() else {
                // The server stopped before listening: surface its error.
                try await group.next()
                throw HubServerError.invalidAddress("\(configuration.host):\(configuration.port)")
            }
            defer { group.cancelAll() }
            return try await body(address)
        }
    }
}
