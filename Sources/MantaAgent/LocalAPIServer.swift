import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The agent's API for processes on its own node, on a unix socket: no network exposure and no
/// Kubernetes permissions needed by the caller (an inference pod's init container mounts the socket's folder).
/// Features add their routes through a registration function, so they share one socket.
public final class LocalAPIServer: Service, Sendable {
    public typealias Routes = @Sendable (Router<BasicRequestContext>) -> Void

    public let socketPath: String
    let routes: [Routes]
    let logger: Logger

    public init(socketPath: String, routes: [Routes], logger: Logger = Logger(label: "manta.agent.local")) {
        self.socketPath = socketPath
        self.routes = routes
        self.logger = logger
    }

    public func run() async throws {
        let router = Router()
        for register in routes { register(router) }
        try FileManager.default.createDirectory(atPath: (socketPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        // A socket left by an agent that was killed would make the bind fail.
        unlink(socketPath)
        let path = socketPath
        let application = Application(
            router: router,
            configuration: .init(address: .unixDomainSocket(path: socketPath), serverName: "manta"),
            // Callers in pods run as any user; the folder holding the socket is what limits access.
            onServerRunning: { _ in chmod(path, 0o666) },
            logger: logger
        )
        defer { unlink(path) }
        try await application.runService(gracefulShutdownSignals: [])
    }
}

