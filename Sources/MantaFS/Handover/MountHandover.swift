import CFuse
import Foundation
import Logging
import MantaStore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How a mount outlives the process serving it. A holder process (`manta fuse-holder`) keeps a second reference
/// to every descriptor of the kernel connection and the mount's journal: when the server dies (crash, OOM kill),
/// the connection stays open, readers wait instead of failing, and the next server with the same mount point
/// takes the descriptors back, has the kernel resend the requests the dead one had taken (FUSE_NOTIFY_RESEND,
/// Linux 6.9+), and goes on with the same inode numbers and open handles. A server started while another serves
/// takes over: the holder asks the old one to exit first (a rolling upgrade).
///
/// A holder, not the parent or systemd's fd store: it needs nothing from the host, works the same under a
/// container runtime, and in a pod can run as a container of its own that outlives the agent's container.
public struct MountHandover: Sendable {
    /// Where the holder listens.
    public var socketPath: String
    /// Starts a holder when none listens (the socket path is appended as `--socket PATH`); nil uses only a holder
    /// that already listens.
    public var holderCommand: [String]?
    /// Runs when a newer server takes the mount over; it must end this process without unmounting (the default
    /// exits at once: the requests it had taken are resent to the new server).
    public var yield: @Sendable () -> Void
    /// A stop (SIGTERM) leaves the mount to the holder for the next server, as a yield does, instead of unmounting:
    /// for a holder that runs on its own (a DaemonSet of its own) while the agent's pods are replaced.
    public var leavesMountOnStop: Bool

    public init(
        socketPath: String, holderCommand: [String]?, leavesMountOnStop: Bool = false, yield: @escaping @Sendable () -> Void = { _exit(0) }
    ) {
        self.socketPath = socketPath
        self.holderCommand = holderCommand
        self.leavesMountOnStop = leavesMountOnStop
        self.yield = yield
    }

    /// Whether a holder listens (it may hold this mount's connection: then the mount point waits for a server
    /// instead of failing, and a stat of it would block until one comes).
    public var holderListens: Bool {
        let descriptor = cfuse_connect_unix(socketPath)
        if descriptor >= 0 { close(descriptor) }
        return descriptor >= 0
    }

    /// A socket per mount point, under the store (or /tmp where that path is too long for a Unix socket).
    public static func defaultSocketPath(storeRoot: String, mountPoint: String) -> String {
        let name = "fuse-\(SHA256Hasher.hash(Array(mountPoint.utf8)).hex.prefix(16)).sock"
        let underStore = "\(storeRoot)/run/\(name)"
        return underStore.utf8.count < 100 ? underStore : "/tmp/manta-\(SHA256Hasher.hash(Array(storeRoot.utf8)).hex.prefix(8))-\(name)"
    }

    enum Greeting {
        /// The holder holds nothing: mount afresh, then hand the connection over.
        case empty
        case resume(descriptors: [Int32], journal: MountJournal)
    }

    /// Connects to the holder (starting one when none listens) and says hello.
    func connect(logger: Logger) throws(HandoverError) -> (Connection, Greeting) {
        let socket = try openSocket(logger: logger)
        let connection = Connection(socket: socket, logger: logger)
        try socket.send(.hello)
        guard let answer = try socket.receive() else { throw .noHolder(socket: socketPath, reason: "it hung up") }
        switch answer.kind {
        case .empty:
            return (connection, .empty)
        case .resume:
            guard !answer.descriptors.isEmpty, let journal = try? JSONDecoder().decode(MountJournal.self, from: Data(answer.payload)),
                journal.negotiation != nil
            else {
                answer.descriptors.forEach { close($0) }
                throw .malformed("a resume without descriptors or a readable journal")
            }
            return (connection, .resume(descriptors: answer.descriptors, journal: journal))
        default:
            throw .malformed("a \(answer.kind) message in answer to hello")
        }
    }

    /// Creates the socket's folder where it is missing, 0700: only its user reaches the socket.
    static func makeFolder(for socketPath: String) {
        try? FileManager.default.createDirectory(
            atPath: FileSystem.parent(of: socketPath), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    private func openSocket(logger: Logger) throws(HandoverError) -> HandoverSocket {
        let first = cfuse_connect_unix(socketPath)
        if first >= 0 { return HandoverSocket(descriptor: first) }
        guard let holderCommand, let executable = holderCommand.first, -first == ENOENT || -first == ECONNREFUSED else {
            throw .noHolder(socket: socketPath, reason: String(cString: strerror(-first)))
        }
        Self.makeFolder(for: socketPath)
        unlink(socketPath)
        let arguments = holderCommand + ["--socket", socketPath]
        var pointers: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        let pid = cfuse_spawn_detached(executable, &pointers, "\(socketPath).log")
        guard pid > 0 else { throw .noHolder(socket: socketPath, reason: "could not start \(executable): \(String(cString: strerror(-pid)))") }
        logger.info("started the mount's descriptor holder", metadata: ["pid": "\(pid)", "socket": "\(socketPath)"])
        for _ in 0..<250 {
            let descriptor = cfuse_connect_unix(socketPath)
            if descriptor >= 0 { return HandoverSocket(descriptor: descriptor) }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                throw .noHolder(socket: socketPath, reason: "the holder exited with status \(status) (see \(socketPath).log)")
            }
            usleep(20_000)
        }
        throw .noHolder(socket: socketPath, reason: "the holder did not listen within 5 s (see \(socketPath).log)")
    }

    /// A server's connection to its holder.
    final class Connection: Sendable {
        private let socket: HandoverSocket
        private let logger: Logger
        private let sending = Mutex(())

        init(socket: HandoverSocket, logger: Logger) {
            self.socket = socket
            self.logger = logger
        }

        func hold(descriptors: [Int32], journal: MountJournal) throws(HandoverError) {
            let payload = Array((try? JSONEncoder().encode(journal)) ?? Data())
            try sending.withLock { _ throws(HandoverError) in try socket.send(.hold, payload, descriptors: descriptors) }
        }

        /// Best effort: a holder that went away only means the next crash ends the mount.
        func send(_ change: MountJournal.Change) {
            guard let payload = try? JSONEncoder().encode(change) else { return }
            sending.withLock { _ in
                do {
                    try socket.send(.change, Array(payload))
                } catch {
                    logger.debug("the mount's holder missed a change", metadata: ["error": "\(error)"])
                }
            }
        }

        /// The mount ended cleanly: the holder lets the connection go.
        func end() {
            sending.withLock { _ in try? socket.send(.end) }
        }

        /// Calls `handler` (on a thread of its own) when the holder asks this server to make way for another.
        func whenAskedToYield(_ handler: @escaping @Sendable () -> Void) {
            let thread = Thread { [self] in
                while let message = try? socket.receive() {
                    if message.kind == .yield {
                        handler()
                        return
                    }
                }
            }
            thread.name = "manta-fuse-handover"
            thread.start()
        }
    }
}
