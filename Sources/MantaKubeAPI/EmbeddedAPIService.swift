import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import ServiceLifecycle

/// The embedded API server listening for clients: on a unix socket (the local commands and the in-process
/// controller and agent) and optionally on a TCP address (`kubectl --server`). On graceful shutdown it ends the
/// open watches first, since a watch would otherwise hold its connection for minutes, then waits for the last
/// saves to reach the disk.
public struct EmbeddedAPIService: Service {
    public enum Listener: Sendable {
        case unixSocket(String)
        /// Plain HTTP without authentication: loopback only, for kubectl on this machine.
        case tcp(host: String, port: Int)
        /// HTTPS, and every request but the certificate's carries the access token: for other machines.
        case secureTCP(host: String, port: Int, access: APIAccess)
    }

    /// Where a client that pins the certificate by its hash fetches it, without a token (the certificate is public).
    public static let certificatePath = "/manta/v1/certificate"

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
            let access: APIAccess?
            switch listener {
            case .unixSocket(let path):
                // A socket left by a process that died is in the way of the bind; a live one answers and is not ours to take.
                try? FileManager.default.removeItem(atPath: path)
                address = .unixDomainSocket(path: path)
                access = nil
            case .tcp(let host, let port):
                address = .hostname(host, port: port)
                access = nil
            case .secureTCP(let host, let port, let secure):
                address = .hostname(host, port: port)
                access = secure
            }
            let responder = CallbackResponder { (request: Request, _: BasicRequestContext) in
                try await Self.respond(request, server: server, access: access)
            }
            let onServerRunning: @Sendable (any Channel) async -> Void = { channel in
                switch listener {
                case .tcp(let host, _):
                    onListening(.tcp(host: host, port: channel.localAddress?.port ?? 0))
                case .secureTCP(let host, _, let access):
                    onListening(.secureTCP(host: host, port: channel.localAddress?.port ?? 0, access: access))
                case .unixSocket(let path):
                    // The unix socket has no authentication: only this user may connect.
                    chmod(path, 0o600)
                    onListening(listener)
                }
            }
            if let access {
                applications.append(
                    Application(
                        responder: responder, server: try .tls(.http1(), tlsConfiguration: access.serverTLS()),
                        configuration: .init(address: address),
                        onServerRunning: onServerRunning, logger: logger))
            } else {
                applications.append(
                    Application(responder: responder, configuration: .init(address: address), onServerRunning: onServerRunning, logger: logger))
            }
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

extension EmbeddedAPIService {
    /// The certificate to anyone; everything else only to a request with the token, where the listener has one.
    static func respond(_ request: Request, server: EmbeddedAPIServer, access: APIAccess?) async throws -> Response {
        guard let access else { return try await server.respond(request) }
        if request.method == .get, request.uri.path == certificatePath {
            return EmbeddedAPIServer.json(200, ["certificate": .string(String(decoding: access.certificatePEM, as: UTF8.self))])
        }
        guard access.admits(authorization: request.headers[.authorization]) else {
            return EmbeddedAPIServer.status(
                401, "Unauthorized", "Unauthorized: this API needs the bearer token of its manta up instance (\(access.tokenFile) there)")
        }
        return try await server.respond(request)
    }
}
