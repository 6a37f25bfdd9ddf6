import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The embedded API server listening for clients: on a unix socket (the local commands and the in-process
/// controller and agent) and optionally on a TCP address (`kubectl --server`). On graceful shutdown it ends the
/// open watches first, since a watch would otherwise hold its connection for minutes, then waits for the last
/// saves to reach the disk.
public struct EmbeddedAPIService: Service {
    public enum Listener: Sendable, Hashable {
        case unixSocket(String)
        case tcp(host: String, port: Int)
    }

    public let server: EmbeddedAPIServer
    public let listeners: [Listener]
    let logger: Logger
    let onListening: @Sendable (Listener) -> Void

    /// `onListening` gets each listener as it starts, a TCP one with the port bound (port 0: any free port).
    public init(server: EmbeddedAPIServer, listeners: [Listener], logger: Logger, onListening: @escaping @Sendable (Listener) -> Void = { _ in }) {
        self.server = server
        self.listeners = listeners
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let server = self.server
        let onListening = self.onListening
        var applications: [any Service] = []
        for listener in listeners {
            let address: BindAddress
            switch listener {
            case .unixSocket(let path):
                // A socket left by a process that died is in the way of the bind; a live one answers and is not ours to take.
                try? FileManager.default.removeItem(atPath: path)
                address = .unixDomainSocket(path: path)
            case .tcp(let host, let port):
                address = .hostname(host, port: port)
            }
            applications.append(
                Application(
                    responder: CallbackResponder { (request: Request, _: BasicRequestContext) in try await server.respond(request) },
                    configuration: .init(address: address),
                    onServerRunning: { channel in
                        switch listener {
                        case .tcp(let host, _):
                            onListening(.tcp(host: host, port: channel.localAddress?.port ?? 0))
                        case .unixSocket(let path):
                            // The API has no authentication: only this user may connect.
                            chmod(path, 0o600)
                            onListening(listener)
                        }
                    },
                    logger: logger))
        }
        let group = ServiceGroup(configuration: .init(services: applications, gracefulShutdownSignals: [], logger: logger))
        try await withGracefulShutdownHandler {
            try await group.run()
        } onGracefulShutdown: {
            server.store.dropWatches()
            Task { await group.triggerGracefulShutdown() }
        }
        await server.store.flush()
    }
}
