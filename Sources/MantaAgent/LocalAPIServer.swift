import Foundation
import Hummingbird
import Logging
import MantaServerLimits
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
    /// The group that may use the socket besides its owner; nil: the agent's own group.
    public let group: gid_t?
    let routes: [Routes]
    let logger: Logger

    public init(socketPath: String, group: gid_t? = nil, routes: [Routes], logger: Logger = Logger(label: "manta.agent.local")) {
        self.socketPath = socketPath
        self.group = group
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
        let group = group
        let logger = logger
        let application = Application(
            router: router,
            server: .http1(limits: .localSocket, logger: logger),
            configuration: .init(address: .unixDomainSocket(path: socketPath), serverName: "manta"),
            // Whoever may connect can make the agent pull with its hub token and fill the disk: the owner and one group
            // only, never every local user or every pod that mounts the socket's folder.
            onServerRunning: { _ in
                if let failure = Self.restrict(path, to: group) {
                    logger.error("the local socket is removed: \(failure)")
                    unlink(path)
                }
            },
            logger: logger
        )
        defer { unlink(path) }
        try await application.runService(gracefulShutdownSignals: [])
    }

    /// Sets the socket to mode 0660 and, when given, its group; the reason when that fails.
    static func restrict(_ path: String, to group: gid_t?) -> String? {
        if let group, chown(path, uid_t.max, group) != 0 {
            return "cannot give \(path) to group \(group): \(String(cString: strerror(errno))); run the agent as root or as a member of that group"
        }
        guard chmod(path, 0o660) == 0 else { return "cannot set \(path) to mode 0660: \(String(cString: strerror(errno)))" }
        return nil
    }
}
