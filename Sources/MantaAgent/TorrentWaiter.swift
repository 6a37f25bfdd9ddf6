import AsyncHTTPClient
import Foundation
import MantaKube
import MantaStore
import MantaTransfer
import NIOCore

/// Waits until a Torrent's model is readable on this node, asking the node's agent over its local socket or
/// (with API permissions) the Kubernetes API directly.
public struct TorrentWaiter: Sendable {
    public enum Source: Sendable {
        /// The agent's local API socket.
        case agentSocket(String)
        /// This node's Replication and the Torrent, read from the API.
        case cluster(KubeClient, nodeName: String)
    }

    public let source: Source
    public let poll: Duration
    /// How long a Torrent that is Ready elsewhere may have no replica here before waiting stops: time for the
    /// controller to place one for a pod labelled `manta.io/torrent-name` that was just bound to this node.
    public let notPlacedGrace: Duration
    /// A stopwatch started on the clock that the timeout, the grace and the polls are measured on.
    private let startStopwatch: @Sendable () -> Stopwatch

    public init(
        source: Source, poll: Duration = .seconds(2), notPlacedGrace: Duration = .seconds(60), clock: some Clock<Duration> = ContinuousClock()
    ) {
        self.source = source
        self.poll = poll
        self.notPlacedGrace = notPlacedGrace
        startStopwatch = { Stopwatch(clock) }
    }

    /// Returns the status once the model is Ready (pulled, or registered for lazy reads); throws when it
    /// failed, when the Torrent is Ready but not placed on this node for `notPlacedGrace` (it will not come
    /// here), or when `timeout` passes first. `onChange` sees each new state, for the log.
    public func wait(
        torrent: String, timeout: Duration, onChange: @Sendable (LocalTorrentStatus) -> Void = { _ in }
    ) async throws(WaitError) -> LocalTorrentStatus {
        let clock = startStopwatch()
        let deadline = timeout
        var last: LocalTorrentStatus?
        var lastProblem: String?
        var settledElsewhereSince: Duration?
        while true {
            do {
                let status = try await self.status(of: torrent, within: min(.seconds(10), deadline - clock.elapsed))
                if status.state != last?.state || status.message != last?.message { onChange(status) }
                last = status
                lastProblem = nil
                switch status.state {
                case .ready: return status
                case .failed: throw WaitError.failed(status)
                default: break
                }
                if status.state == .notPlaced, status.torrentPhase == .ready {
                    let since = settledElsewhereSince ?? clock.elapsed
                    settledElsewhereSince = since
                    if clock.elapsed - since >= notPlacedGrace { throw WaitError.notPlaced(status, for: notPlacedGrace) }
                } else {
                    settledElsewhereSince = nil
                }
            } catch let error as WaitError {
                throw error
            } catch {
                // The agent may still be starting: keep asking until the deadline.
                lastProblem = "\(error)"
            }
            guard clock.elapsed + poll < deadline else {
                throw .timedOut(torrent: torrent, timeout: timeout, last: last, problem: lastProblem)
            }
            do {
                try await clock.sleep(for: poll)
            } catch {
                throw .cancelled(torrent: torrent)
            }
        }
    }

    /// One answer; `timeout` bounds the agent's (an API request has the client's own timeouts).
    public func status(of torrent: String, within timeout: Duration = .seconds(10)) async throws -> LocalTorrentStatus {
        switch source {
        case .agentSocket(let path):
            return try await Self.askAgent(socket: path, torrent: torrent, timeout: timeout)
        case .cluster(let client, let nodeName):
            async let replication = client.getIfPresent(Replication.self, name: Replication.name(torrent: torrent, node: nodeName))
            async let object = client.getIfPresent(Torrent.self, name: torrent)
            return LocalTorrentStatus(torrent: torrent, node: nodeName, replication: try await replication, torrent: try await object)
        }
    }

    static func askAgent(socket: String, torrent: String, timeout: Duration) async throws -> LocalTorrentStatus {
        guard let encodedSocket = socket.addingPercentEncoding(withAllowedCharacters: .alphanumerics),
            let encodedName = torrent.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/")))
        else { throw WaitError.agentAnswer(socket: socket, status: 0, body: "the socket path or Torrent name cannot be put in a URL") }
        let request = HTTPClientRequest(url: "http+unix://\(encodedSocket)\(LocalTorrentRoutes.path)/\(encodedName)")
        let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(max(timeout.wholeMilliseconds, 1)))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else {
            throw WaitError.agentAnswer(socket: socket, status: Int(response.status.code), body: String(buffer: body))
        }
        do {
            return try JSONDecoder().decode(LocalTorrentStatus.self, from: Data(buffer: body))
        } catch {
            throw WaitError.agentAnswer(socket: socket, status: 200, body: "not a Torrent status: \(String(buffer: body).prefix(200))")
        }
    }
}

/// Why `manta wait` gave up.
public enum WaitError: Error, CustomStringConvertible {
    case failed(LocalTorrentStatus)
    /// The Torrent is Ready on other nodes and was given none here: waiting longer changes nothing.
    case notPlaced(LocalTorrentStatus, for: Duration)
    case timedOut(torrent: String, timeout: Duration, last: LocalTorrentStatus?, problem: String?)
    case agentAnswer(socket: String, status: Int, body: String)
    case cancelled(torrent: String)

    public var description: String {
        switch self {
        case .failed(let status):
            "the model of Torrent \(status.torrent) failed on node \(status.node): \(status.message ?? "no reason given")"
        case .notPlaced(let status, let grace):
            "Torrent \(status.torrent) is Ready, but not on node \(status.node), and none was placed here within \(grace): "
                + "label the pod \(Torrent.nameLabel)=\(status.torrent) so that the controller places one where the pod runs, "
                + "or schedule the pod onto a node that holds it (nodeAffinity on the node label \(Torrent.nodeLabelKey(for: status.torrent)))"
        case .timedOut(let torrent, let timeout, let last, let problem):
            "Torrent \(torrent) was not Ready on this node within \(timeout)"
                + (last.map { "; last state \($0.state.rawValue)\($0.message.map { ": \($0)" } ?? "")" } ?? "")
                + (problem.map { "; last problem: \($0)" } ?? "")
        case .agentAnswer(let socket, let status, let body):
            "the agent at \(socket) answered \(status): \(body.trimmingCharacters(in: .whitespacesAndNewlines))"
        case .cancelled(let torrent):
            "stopped waiting for Torrent \(torrent)"
        }
    }
}
