import Hummingbird
import Logging
import MantaServerLimits
import MantaStore
import MantaTransfer
import MantaWire
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The HTTP service a node offers its peers: chunks and manifests by digest, which chunks of a manifest it
/// has, and health. Only content addressed by a digest is served; no part of a request path ever reaches
/// the file system.
public final class PeerServer: Service, Sendable {
    public struct Configuration: Sendable {
        public var host: String
        /// 0 lets the OS choose; `boundPort()` then tells which.
        public var port: Int
        /// Required as `Authorization: Bearer …` on `/v1/…` when set.
        public var token: String?
        public var uploadRate: UInt64?
        public var maxConcurrentUploads: Int
        /// Renders the Prometheus text served at `/metrics` (unauthenticated, for scrapers); nil serves none.
        public var metrics: (@Sendable () -> [UInt8])?
        /// Answers `POST /v1/swarm`: what this node has of a revision and what it is pulling; nil answers nothing.
        public var swarm: (@Sendable (SwarmQuery) async -> SwarmStatus)?
        /// Connection caps, timeouts, header and body caps.
        public var limits = ServerLimits.peer

        public init(
            host: String = "127.0.0.1", port: Int = 0, token: String? = nil, uploadRate: UInt64? = nil, maxConcurrentUploads: Int = 32,
            metrics: (@Sendable () -> [UInt8])? = nil, swarm: (@Sendable (SwarmQuery) async -> SwarmStatus)? = nil
        ) {
            self.host = host
            self.port = port
            self.token = token
            self.uploadRate = uploadRate
            self.maxConcurrentUploads = maxConcurrentUploads
            self.metrics = metrics
            self.swarm = swarm
        }
    }

    let store: Store
    let configuration: Configuration
    let logger: Logger
    let uploadLimiter: RateLimiter?
    let activeUploads = Atomic<Int>(0)
    let bytesServed = Atomic<UInt64>(0)
    private let port: Mutex<(value: Int?, waiters: [CheckedContinuation<Int, Never>])> = Mutex((nil, []))

    public init(store: Store, configuration: Configuration, logger: Logger = Logger(label: "manta.peer.server")) {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        uploadLimiter = configuration.uploadRate.map { RateLimiter(bytesPerSecond: $0) }
    }

    /// Bytes of chunk and manifest bodies sent so far.
    public var totalBytesServed: UInt64 { bytesServed.load(ordering: .relaxed) }

    /// The port the server listens on, once it does.
    public func boundPort() async -> Int {
        await withCheckedContinuation { continuation in
            let ready = port.withLock { state -> Int? in
                if let value = state.value { return value }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    public func run() async throws {
        let router = Router()
        addRoutes(to: router)
        let application = Application(
            router: router,
            server: .http1(limits: configuration.limits, logger: logger),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "manta"),
            onServerRunning: { [self] channel in listening(on: channel.localAddress?.port ?? 0) },
            logger: logger
        )
        try await application.runService(gracefulShutdownSignals: [])
    }

    private func listening(on bound: Int) {
        let waiters = port.withLock { state in
            state.value = bound
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: bound) }
    }
}
