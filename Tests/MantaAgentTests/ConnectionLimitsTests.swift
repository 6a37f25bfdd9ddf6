import Foundation
import MantaPeer
import MantaServerLimits
import MantaStore
import MantaTestSupport
import Testing

/// A real `manta agent` with a mount and a token under thousands of half-sent requests: it stays up, keeps serving
/// an authenticated peer and its mount, holds its connections under the cap, and closes the stalled ones itself.
@Suite(.timeLimit(.minutes(3))) struct ConnectionLimitsTests {
    /// Long enough that the peer and the mount are answered while the flood is still held open, even with the
    /// suite running beside this test.
    static let idleTimeout = 10

    @Test func thousandsOfHalfOpenConnectionsNeitherStopPeersNorTheMountAndAreClosedAfterTheIdleTimeout() async throws {
        // The test holds 3,000 sockets itself.
        try #require((FileDescriptorLimit.raiseToHardLimit() ?? 0) >= 4000, "the test needs an open-file limit of 4000 (ulimit -Hn)")
        let node = try AgentProcessTests.GGUFNode()
        let (store, mount, tokenFile, digest) = (node.store, node.mount, node.tokenFile, node.digest)
        let original = try Data(contentsOf: URL(fileURLWithPath: "\(try Fixtures.gguf())/model.gguf"))

        let maxConnections = 1024
        let (agent, port) = try await AgentProcessTests.startAgent(
            store: store, mount: mount, tokenFile: tokenFile,
            options: ["--idle-timeout", "\(Self.idleTimeout)s", "--max-connections", "\(maxConnections)"])
        defer { if agent.isRunning { agent.terminate() } }
        let peer = PeerAddress(host: "127.0.0.1", port: port)

        // One address over its share: only the newest 64 (the per-client cap) stay open.
        let oneClient = HalfOpenConnections()
        try await blocking { oneClient.open(200, to: port, from: ["127.0.0.250"], deadline: .now + .seconds(20)) }
        try await eventually("the per-client cap closes the oldest of one address's stalled connections") {
            try await blocking { oneClient.stillOpen() } <= ServerLimits.peer.maxConnectionsPerClient
        }

        // 3,000 from a hundred addresses, under the per-client cap each: the overall cap has to act.
        let flood = HalfOpenConnections()
        let sources = (2...101).map { "127.0.0.\($0)" }
        try await blocking { flood.open(3000, to: port, from: sources, deadline: .now + .seconds(60)) }
        #expect(flood.descriptors.count >= 2 * maxConnections, "the flood outnumbered the cap (\(flood.failedToOpen) failed to open)")
        #expect(agent.isRunning)
        let descriptors = try openDescriptors(of: agent.processIdentifier)
        #expect(descriptors < maxConnections + 200, "the agent holds \(descriptors) descriptors under a cap of \(maxConnections) connections")

        // Meanwhile an authenticated peer and the mount are served, byte-identical, within seconds.
        let started = ContinuousClock.now
        let manifest = try await Self.onceMore { try await PeerClient(token: "cluster-secret").manifest(digest, from: peer) }
        let chunk = try #require(manifest.files.first?.chunks.last)
        let bytes = try await Self.onceMore { try await PeerClient(token: "cluster-secret").chunk(chunk.id, length: chunk.length, from: peer) }
        let chunkStart = try #require(Int(exactly: chunk.offset))
        let chunkLength = try #require(Int(exactly: chunk.length))
        #expect(Data(bytes) == original.subdata(in: chunkStart..<(chunkStart + chunkLength)))
        let served = try await blocking { try Data(contentsOf: URL(fileURLWithPath: "\(mount)/models/acme/gguf/model.gguf")) }
        #expect(served == original)
        // Stalled connections still open show both were answered beside the flood, not once the idle timeout had
        // cleared it; a wall-clock bound would also measure whatever else the machine is doing.
        let heldMeanwhile = try await blocking { flood.stillOpen() }
        #expect(heldMeanwhile >= 100, "peer and mount answered in \(ContinuousClock.now - started), \(heldMeanwhile) stalled connections still open")

        // After the idle timeout the agent has closed every stalled connection itself.
        try await eventually("the idle timeout closes every half-open connection", timeout: .seconds(Self.idleTimeout * 4)) {
            try await blocking { flood.stillOpen() + oneClient.stillOpen() } == 0
        }
        #expect(agent.isRunning)
        let again = try await Self.onceMore { try await PeerClient(token: "cluster-secret").manifest(digest, from: peer) }
        #expect(again == manifest)
        flood.closeAll()
        oneClient.closeAll()
    }

    /// `request`, asked again once if it fails on a connection the agent closed: the peer client keeps its
    /// connection between requests, and the agent closes an idle one at its cap to admit a new one, or at the idle
    /// timeout, which passes for it just as it does for the flood this test then stops waiting for (a swarm peer
    /// fetches elsewhere then).
    private static func onceMore<T>(_ request: () async throws -> T) async throws -> T {
        do {
            return try await request()
        } catch {
            return try await request()
        }
    }

    private func openDescriptors(of pid: Int32) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
    }
}
