import GRPCCore
import GRPCNIOTransportHTTP2
import Glibc
import Logging

/// The CSI node plugin: the Identity and Node services on a unix socket only root (kubelet) can use.
public final class CSIPlugin: Sendable {
    public let configuration: CSIPluginConfiguration
    private let server: GRPCServer<HTTP2ServerTransport.Posix>
    private let logger: Logger

    public init(configuration: CSIPluginConfiguration, backend: any CSIVolumeBackend, logger: Logger = Logger(label: "manta.csi")) {
        self.configuration = configuration
        self.logger = logger
        server = GRPCServer(
            transport: .http2NIOPosix(address: .unixDomainSocket(path: configuration.socketPath), transportSecurity: .plaintext),
            services: [
                CSIIdentityService(configuration: configuration),
                CSINodeService(configuration: configuration, backend: backend, logger: logger),
            ]
        )
    }

    /// Listens (replacing a socket file a previous run left) and serves until `stop()`.
    public func run() async throws {
        let socketPath = configuration.socketPath
        if let slash = socketPath.lastIndex(of: "/"), slash != socketPath.startIndex {
            // The folder kubelet's registrar watches; only root needs to enter it.
            mkdir(String(socketPath[..<slash]), 0o700)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.server.serve() }
            _ = try await server.listeningAddress
            guard chmod(socketPath, 0o600) == 0 else {
                server.beginGracefulShutdown()
                throw CSIPluginError.socketPermissions(socketPath, errno)
            }
            logger.notice(
                "CSI node plugin listening",
                metadata: ["socket": "\(socketPath)", "driver": "\(configuration.driverName)", "node": "\(configuration.nodeID)"])
            try await group.waitForAll()
        }
    }

    /// Stops accepting calls and returns once the ones running have answered.
    public func stop() { server.beginGracefulShutdown() }
}

/// Why the plugin could not start.
public enum CSIPluginError: Error, CustomStringConvertible {
    case socketPermissions(String, Int32)

    public var description: String {
        switch self {
        case .socketPermissions(let path, let code):
            "could not make the CSI socket \(path) root-only (chmod 0600): \(String(cString: strerror(code)))"
        }
    }
}
