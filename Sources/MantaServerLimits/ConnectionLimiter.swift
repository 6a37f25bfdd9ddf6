import Logging
import NIOCore
import Synchronization

/// Counts one server's open connections, overall and per client address, and makes room at a cap by closing the
/// connection that has waited longest without a request in progress. Closing the idle one, not refusing the new
/// one, keeps a server full of half-sent requests answering: a real client's request completes in milliseconds,
/// while the stalled connections it displaces were costing a file descriptor each and doing nothing.
public final class ConnectionLimiter: Sendable {
    public let limits: ServerLimits
    private let logger: Logger
    /// Time on the clock the limiter was given, since it was made: it paces the cap's warnings.
    private let elapsed: @Sendable () -> Duration
    private let state = Mutex(State())

    public init(limits: ServerLimits, logger: Logger, clock: some Clock<Duration> = ContinuousClock()) {
        self.limits = limits
        self.logger = logger
        let start = clock.now
        elapsed = { start.duration(to: clock.now) }
    }

    /// Connections open now.
    public var openConnections: Int { state.withLock { $0.open.count } }
    /// Connections closed to make room, since start.
    public var displacedConnections: Int { state.withLock { $0.displaced } }

    /// Takes a newly accepted connection in; nil when every connection in its way is busy with a request, and the
    /// new one must be closed instead.
    func admit(_ channel: any Channel) -> UInt64? {
        let client = channel.remoteAddress?.ipAddress
        let now = elapsed()
        let (id, displaced, warn) = state.withLock { state -> (UInt64?, [any Channel], Bool) in
            var displaced: [any Channel] = []
            if let client, state.perClient[client, default: 0] >= limits.maxConnectionsPerClient {
                guard let victim = state.longestIdle(client: client) else { return (nil, [], state.shouldWarn(at: now)) }
                if let channel = state.remove(victim) { displaced.append(channel) }
            }
            if state.open.count >= limits.maxConnections {
                guard let victim = state.longestIdle(client: nil) else { return (nil, displaced, state.shouldWarn(at: now)) }
                if let channel = state.remove(victim) { displaced.append(channel) }
            }
            let id = state.nextID
            state.nextID += 1
            state.open[id] = Connection(channel: channel, client: client, idleSince: id)
            if let client { state.perClient[client, default: 0] += 1 }
            state.displaced += displaced.count
            return (id, displaced, !displaced.isEmpty && state.shouldWarn(at: now))
        }
        for channel in displaced { channel.close(promise: nil) }
        if warn {
            logger.warning(
                "connection cap reached: the longest-idle connections are closed to admit new ones, or the new one when all are busy",
                metadata: [
                    "client": "\(client ?? "local")", "maxConnections": "\(limits.maxConnections)",
                    "maxConnectionsPerClient": "\(limits.maxConnectionsPerClient)", "admitted": "\(id != nil)",
                ])
        }
        return id
    }

    /// Forgets a closed connection (a displaced one was forgotten already).
    func release(_ id: UInt64) {
        state.withLock { state in _ = state.remove(id) }
    }

    /// A connection with a request in progress is never displaced; one between requests ranks by when it became idle.
    func setBusy(_ id: UInt64, _ busy: Bool) {
        state.withLock { state in
            guard state.open[id] != nil else { return }
            if busy {
                state.open[id]?.idleSince = nil
            } else {
                state.open[id]?.idleSince = state.nextID
                state.nextID += 1
            }
        }
    }

    private struct Connection {
        let channel: any Channel
        let client: String?
        /// An increasing stamp of when the connection last became idle; nil while a request is in progress.
        var idleSince: UInt64?
    }

    private struct State {
        var nextID: UInt64 = 0
        var open: [UInt64: Connection] = [:]
        var perClient: [String: Int] = [:]
        var displaced = 0
        var lastWarning: Duration?

        /// A scan, not an index: it runs only at a full cap, over at most `maxConnections` entries.
        func longestIdle(client: String?) -> UInt64? {
            var best: (id: UInt64, since: UInt64)?
            for (id, connection) in open {
                guard let since = connection.idleSince, client == nil || connection.client == client else { continue }
                if best.map({ since < $0.since }) ?? true { best = (id, since) }
            }
            return best?.id
        }

        mutating func remove(_ id: UInt64) -> (any Channel)? {
            guard let connection = open.removeValue(forKey: id) else { return nil }
            if let client = connection.client {
                let left = perClient[client, default: 1] - 1
                perClient[client] = left > 0 ? left : nil
            }
            return connection.channel
        }

        /// At most one warning a minute, so a flood does not flood the log too.
        mutating func shouldWarn(at now: Duration) -> Bool {
            if let lastWarning, now - lastWarning < .seconds(60) { return false }
            lastWarning = now
            return true
        }
    }
}
