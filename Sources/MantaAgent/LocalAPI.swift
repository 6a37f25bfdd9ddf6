import Foundation
import Hummingbird
import Logging
import MantaKube
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

/// `GET /v1/local/torrents/<name>`: whether the Torrent's model is readable on this node, as a
/// `LocalTorrentStatus` in JSON (always 200 when the answer is known, whatever the state).
public enum LocalTorrentRoutes {
    public static let path = "/v1/local/torrents"

    /// The routes, answering from `cluster`; without one (an agent outside a cluster) they answer 503.
    public static func routes(_ cluster: ClusterAgent?) -> LocalAPIServer.Routes {
        { router in
            router.get("\(path)/:name") { _, context -> Response in
                guard let name = context.parameters.get("name"), !name.isEmpty else { throw HTTPError(.notFound, message: "no Torrent name") }
                guard let cluster else {
                    throw HTTPError(.serviceUnavailable, message: "this agent does not run in a cluster: start it with --node-name to follow Torrents")
                }
                let status = try await cluster.status(ofTorrent: name)
                let body = try JSONEncoder().encode(status)
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
            }
        }
    }
}
