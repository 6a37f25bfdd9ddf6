import Logging
import MantaStore
import MantaTransfer
import Synchronization

/// Reads chunk ranges of registered models from the Hugging Face hub they were registered from: one ranged
/// request per run of spans on the file's resolve URL at the recorded commit, with the client's retries. Reads
/// waiting for a slot go before read-ahead.
public final class HubSpanFetcher: SpanFetcher {
    public static let defaultConcurrency = 8

    private let configuration: HubClientConfiguration
    private let overridesEndpoint: Bool
    private let slots: FetchSlots
    private let logger: Logger
    private let clients = Mutex<[String: HubClient]>([:])

    /// With `overridesEndpoint`, every model is fetched from `configuration.endpoint`; otherwise from the endpoint
    /// recorded when it was registered (`configuration`'s token and retries apply either way).
    public init(
        configuration: HubClientConfiguration,
        overridesEndpoint: Bool,
        concurrency: Int = HubSpanFetcher.defaultConcurrency,
        logger: Logger = Logger(label: "manta.hub.lazy")
    ) {
        self.configuration = configuration
        self.overridesEndpoint = overridesEndpoint
        slots = FetchSlots(limit: concurrency)
        self.logger = logger
    }

    public func fetch(
        _ spans: [ChunkSpan],
        of path: String,
        from source: Manifest.Source,
        priority: FetchPriority,
        each: @escaping @Sendable (Int, [UInt8]) async throws -> Void
    ) async throws {
        guard source.kind == HubSource.kind else { throw PullError.unsupportedSource(kind: source.kind, repo: source.repo) }
        let location = try HubFileLocation(repo: HubRepoID(source.repo), revision: source.commit, path: path)
        let client = try client(for: source)
        let capacity = Int(spans.map(\.length).max() ?? 0)
        try await slots.withSlot(priority) {
            try await client.streamSpans(location, spans: spans, buffers: (ReceiveBuffer(capacity: capacity), ReceiveBuffer(capacity: capacity))) {
                index, buffer in
                try await each(index, Array(buffer.bytes))
            }
        }
    }

    /// One client per endpoint, made on first use.
    private func client(for source: Manifest.Source) throws -> HubClient {
        let endpoint = overridesEndpoint ? configuration.endpoint : source.endpoint ?? configuration.endpoint
        return try clients.withLock { clients in
            if let client = clients[endpoint] { return client }
            var settings = try HubClientConfiguration(endpoint: endpoint, token: configuration.token, retry: configuration.retry)
            settings.responseHeadTimeout = configuration.responseHeadTimeout
            let client = HubClient(configuration: settings, logger: logger)
            clients[endpoint] = client
            return client
        }
    }
}

/// How hub models are named in manifests and registrations.
public enum HubSource {
    public static let kind = "huggingface"
}
