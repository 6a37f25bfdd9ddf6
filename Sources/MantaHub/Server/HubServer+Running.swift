extension HubServer {
    /// Runs the server for the duration of `body`, which gets the bound address (port 0 gets a free port),
    /// then shuts it down gracefully. Meant for tests and tools that need a hub in-process.
    public func withRunning<Result: Sendable>(_ body: (HubServerAddress) async throws -> Result) async throws -> Result {
        let (addresses, continuation) = AsyncStream.makeStream(of: HubServerAddress.self)
        let serviceGroup = try makeServiceGroup(handlingSignals: false) { address in continuation.yield(address) }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { continuation.finish() }
                try await serviceGroup.run()
            }
            var iterator = addresses.makeAsyncIterator()
            guard let address = await iterator.next() else {
                // The server stopped before listening: surface its error.
                try await group.next()
                throw HubServerError.invalidAddress("\(configuration.host):\(configuration.port)")
            }
            let result: Result
            do {
                result = try await body(address)
            } catch {
                await serviceGroup.triggerGracefulShutdown()
                throw error
            }
            await serviceGroup.triggerGracefulShutdown()
            try await group.waitForAll()
            return result
        }
    }
}
