import Synchronization

/// What a `HubServer` has sent, so tests can assert how much of a file left the hub.
public final class HubServerStatistics: Sendable {
    private struct State {
        var bodyBytesByFile: [String: Int64] = [:]
        var requests = 0
        var requestsWithAuthorization = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Body bytes of `resolve` answers for `path` of `repo`, over all revisions.
    public func bytesServed(repo: HubRepoID, path: String) -> Int64 {
        state.withLock { $0.bodyBytesByFile["\(repo)/\(path)"] ?? 0 }
    }

    /// Body bytes of all `resolve` answers.
    public var totalBytesServed: Int64 { state.withLock { $0.bodyBytesByFile.values.reduce(0, +) } }

    public var requestCount: Int { state.withLock { $0.requests } }

    /// Requests that carried an `Authorization` header (to check it is not forwarded across hosts).
    public var requestsWithAuthorization: Int { state.withLock { $0.requestsWithAuthorization } }

    /// The counters in the Prometheus text format, served at `/metrics`.
    public func prometheusText() -> String {
        """
        # HELP manta_hub_served_bytes Body bytes of resolve answers (file content) sent since start.
        # TYPE manta_hub_served_bytes counter
        manta_hub_served_bytes \(totalBytesServed)
        # HELP manta_hub_requests Requests answered since start.
        # TYPE manta_hub_requests counter
        manta_hub_requests \(requestCount)

        """
    }

    public func reset() { state.withLock { $0 = State() } }

    func recordRequest(authorized: Bool) {
        state.withLock { state in
            state.requests += 1
            if authorized { state.requestsWithAuthorization += 1 }
        }
    }

    func recordBody(repo: HubRepoID, path: String, bytes: Int) {
        state.withLock { $0.bodyBytesByFile["\(repo)/\(path)", default: 0] += Int64(bytes) }
    }
}
