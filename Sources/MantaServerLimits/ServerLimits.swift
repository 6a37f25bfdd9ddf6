import NIOCore

/// What one HTTP server of Manta grants a client: how long it may take, how much it may send, how many
/// connections it may hold. Every server of the project (peer, hub, the agent's local socket, probes) runs
/// with limits, because one exhausted server takes the node's mount down with it (see docs/security.md).
public struct ServerLimits: Sendable, Equatable {
    /// A connection that has not sent a complete request head for this long, between or before requests, is closed.
    /// It is also the head's read timeout: partial bytes do not reset it.
    public var idleTimeout: Duration
    /// A request body that has not fully arrived this long after its head closes the connection.
    public var bodyReadTimeout: Duration
    /// A response the client has not read any of for this long (the socket stays unwritable) closes the connection.
    public var writeStallTimeout: Duration
    /// Open connections over all clients; at the cap, the connection idle the longest makes room for a new one.
    public var maxConnections: Int
    /// Open connections from one IP address; at the cap, that address's longest-idle connection makes room.
    public var maxConnectionsPerClient: Int
    /// Bytes of one header line, and of all header lines of a request.
    public var maxHeaderFieldSize: Int
    public var maxHeaderListSize: Int
    public var maxHeaderCount: Int
    /// Bytes of one request body; a larger `Content-Length` is answered 413, a larger chunked body closes the connection.
    public var maxRequestBodySize: Int

    public init(
        idleTimeout: Duration = .seconds(30), bodyReadTimeout: Duration = .seconds(60), writeStallTimeout: Duration = .seconds(60),
        maxConnections: Int = 1024, maxConnectionsPerClient: Int = 64,
        maxHeaderFieldSize: Int = 16 << 10, maxHeaderListSize: Int = 64 << 10, maxHeaderCount: Int = 100,
        maxRequestBodySize: Int = 4 << 20
    ) {
        self.idleTimeout = idleTimeout
        self.bodyReadTimeout = bodyReadTimeout
        self.writeStallTimeout = writeStallTimeout
        self.maxConnections = max(1, maxConnections)
        self.maxConnectionsPerClient = max(1, maxConnectionsPerClient)
        self.maxHeaderFieldSize = max(1, maxHeaderFieldSize)
        self.maxHeaderListSize = max(1, maxHeaderListSize)
        self.maxHeaderCount = max(1, maxHeaderCount)
        self.maxRequestBodySize = max(0, maxRequestBodySize)
    }

    /// Peers: `POST /v1/have` carries up to 65,536 ids (2 MiB of hex).
    public static let peer = ServerLimits()
    /// `manta hub serve`: clients send small JSON bodies only.
    public static let hub = ServerLimits(maxRequestBodySize: 1 << 20)
    /// The agent's unix socket: every client is local and shares no address, so only the overall cap applies.
    public static let localSocket = ServerLimits(idleTimeout: .seconds(60), maxConnections: 256, maxRequestBodySize: 1 << 20)
    /// Health and metrics endpoints, read by the kubelet and Prometheus.
    public static let probes = ServerLimits(idleTimeout: .seconds(15), maxConnections: 64, maxConnectionsPerClient: 16, maxRequestBodySize: 64 << 10)
}

extension TimeAmount {
    /// `duration` as NIO's time, between zero and a year: NIO's own conversion traps past 292 years of nanoseconds,
    /// and a limit comes from a command line.
    init(bounded duration: Duration) {
        self.init(max(.zero, min(duration, .seconds(365 * 86_400))))
    }
}
