import CFuse
import Foundation
import Logging
import MantaTransfer

#if canImport(Glibc)
import Glibc
#endif

/// The process that keeps a mount's kernel connection open while its server is gone (`MountHandover`): it holds a
/// reference to each of the connection's descriptors, never reads from them, and keeps the server's journal.
/// It lets go (and the mount ends, as it would have without a holder) when the server ends the mount, when the
/// connection ends (an unmount), or when no server came back within the grace period; then it exits, or, when it
/// `stays` (run on its own, as a DaemonSet of its own), waits for the next mount.
public struct FuseHolder {
    private let socketPath: String
    private let grace: Duration
    private let stays: Bool
    private let logger: Logger
    /// How long a server asked to yield has to exit before the new one gets the connection anyway.
    private let yieldTimeout: Duration = .seconds(10)
    /// What the grace, the yield timeout and the wait for a first server are measured on.
    private let clock: Stopwatch

    private var listener: Int32 = -1
    private var server: HandoverSocket?
    /// A server waiting for the one before it to exit.
    private var successor: HandoverSocket?
    private var successorDeadline: Duration?
    private var descriptors: [Int32] = []
    private var journal: MountJournal?
    private var serverlessSince: Duration? = .zero

    public init(socketPath: String, grace: Duration, stays: Bool = false, logger: Logger, clock: some Clock<Duration> = ContinuousClock()) {
        self.socketPath = socketPath
        self.grace = grace
        self.stays = stays
        self.logger = logger
        self.clock = Stopwatch(clock)
    }

    /// Serves until there is nothing left to hold.
    public mutating func run() throws(HandoverError) {
        MountHandover.makeFolder(for: socketPath)
        var listening = cfuse_listen_unix(socketPath)
        if -listening == EADDRINUSE {
            // A holder killed before it could remove its socket leaves the file; a live one answers on it.
            let probe = cfuse_connect_unix(socketPath)
            if probe >= 0 { close(probe) }
            if -probe == ECONNREFUSED {
                unlink(socketPath)
                listening = cfuse_listen_unix(socketPath)
            }
        }
        guard listening >= 0 else { throw .socket(operation: "listen on \(socketPath) (is another holder there?)", code: -listening) }
        listener = listening
        chmod(socketPath, 0o600)
        defer {
            close(listener)
            unlink(socketPath)
            descriptors.forEach { close($0) }
        }
        logger.info("holding mount descriptors", metadata: ["socket": "\(socketPath)", "grace": "\(grace)", "stays": "\(stays)"])
        while step() {}
    }

    /// One turn of the loop; false once the holder is done.
    private mutating func step() -> Bool {
        var watched = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
        if let server { watched.append(pollfd(fd: server.descriptor, events: Int16(POLLIN), revents: 0)) }
        // No events asked: the kernel reports POLLERR on a FUSE descriptor once its connection ended.
        if let connection = descriptors.first { watched.append(pollfd(fd: connection, events: 0, revents: 0)) }
        let ready = poll(&watched, nfds_t(watched.count), 200)
        guard ready >= 0 || errno == EINTR else {
            logger.error("poll failed", metadata: ["errno": "\(errno)"])
            return false
        }
        if let connection = descriptors.first, let entry = watched.first(where: { $0.fd == connection }),
            entry.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0
        {
            logger.info("the mount's connection ended: nothing left to hold")
            return letGo()
        }
        if let server, let entry = watched.first(where: { $0.fd == server.descriptor }), entry.revents != 0 {
            guard serveMessage(from: server) else { return letGo() }
        }
        if watched[0].revents & Int16(POLLIN) != 0 { accept() }
        if let deadline = successorDeadline, clock.elapsed >= deadline, let successor {
            logger.warning("the server asked to yield did not exit: the new one takes over anyway")
            server = nil
            resume(successor)
        }
        // A holder started for a server that went before handing anything over has nothing to keep.
        if server == nil, successor == nil, !stays, descriptors.isEmpty, let since = serverlessSince, clock.elapsed - since >= .seconds(10) {
            logger.info("no server handed a connection over: nothing to hold")
            return false
        }
        if server == nil, successor == nil, !(stays && descriptors.isEmpty), let since = serverlessSince, clock.elapsed - since >= grace {
            logger.notice("no server came back within the grace period: letting the mount go", metadata: ["grace": "\(grace)"])
            return letGo()
        }
        return true
    }

    /// Closes what it held; false (the holder ends) unless it stays for the next mount.
    private mutating func letGo() -> Bool {
        guard stays else { return false }
        descriptors.forEach { close($0) }
        descriptors = []
        journal = nil
        server = nil
        serverlessSince = nil
        if let successor {
            // It came to take over a mount that is gone now: it mounts afresh.
            (self.successor, successorDeadline) = (nil, nil)
            try? successor.send(.empty)
            server = successor
        }
        logger.info("waiting for the next mount")
        return true
    }

    /// False when the mount ended cleanly.
    private mutating func serveMessage(from connection: HandoverSocket) -> Bool {
        let message: HandoverSocket.Message?
        do {
            message = try connection.receive()
        } catch {
            logger.warning("dropped a server that sent something unreadable", metadata: ["error": "\(error)"])
            message = nil
        }
        guard let message else {
            serverGone()
            return true
        }
        switch message.kind {
        case .hold:
            guard descriptors.isEmpty, !message.descriptors.isEmpty,
                let held = try? JSONDecoder().decode(MountJournal.self, from: Data(message.payload))
            else {
                logger.warning("refused a hold without descriptors or a journal, or while holding a connection already")
                message.descriptors.forEach { close($0) }
                return true
            }
            descriptors = message.descriptors
            journal = held
            logger.info("holding a mount's connection", metadata: ["descriptors": "\(descriptors.count)"])
        case .change:
            if let change = try? JSONDecoder().decode(MountJournal.Change.self, from: Data(message.payload)) { journal?.apply(change) }
        case .end:
            logger.info("the mount ended: letting its connection go")
            return false
        default:
            message.descriptors.forEach { close($0) }
        }
        return true
    }

    private mutating func serverGone() {
        server = nil
        if let successor {
            resume(successor)
        } else {
            serverlessSince = clock.elapsed
            if !descriptors.isEmpty { logger.notice("the mount's server went away: holding its connection until one comes back") }
        }
    }

    private mutating func accept() {
        let descriptor = Glibc.accept(listener, nil, nil)
        guard descriptor >= 0 else { return }
        let connection = HandoverSocket(descriptor: descriptor)
        guard cfuse_peer_user(descriptor) == Int(getuid()) else {
            logger.warning("refused a connection from another user")
            return
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard let hello = try? connection.receive(), hello.kind == .hello else { return }
        timeout = timeval(tv_sec: 0, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        if descriptors.isEmpty {
            guard server == nil else {
                logger.warning("refused a second server while the first has not handed over its connection yet")
                return
            }
            try? connection.send(.empty)
            server = connection
            serverlessSince = nil
        } else if let server {
            guard successor == nil else { return }
            logger.notice("a new server takes over: asking the current one to exit")
            try? server.send(.yield)
            successor = connection
            successorDeadline = clock.elapsed + yieldTimeout
        } else {
            resume(connection)
        }
    }

    private mutating func resume(_ connection: HandoverSocket) {
        successor = nil
        successorDeadline = nil
        let payload = Array((try? JSONEncoder().encode(journal)) ?? Data())
        do {
            try connection.send(.resume, payload, descriptors: descriptors)
            server = connection
            serverlessSince = nil
            logger.notice("handed the mount's connection to a new server")
        } catch {
            logger.warning("could not hand the connection to the new server", metadata: ["error": "\(error)"])
            serverlessSince = clock.elapsed
        }
    }
}
