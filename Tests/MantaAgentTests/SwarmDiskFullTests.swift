import Foundation
import MantaAgent
import MantaHub
import MantaPeer
import MantaStore
import MantaTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A pull that takes its chunks from peers and fills the store's disk leaves it as full as it found it, as a hub pull
/// does (`PullDiskFullTests`), and the agent goes on.
@Suite(.serialized) struct SwarmDiskFullTests {
    /// Bytes in use on the file system holding `path`.
    static func usedBytes(_ path: String) throws -> UInt64 {
        var statistics = statvfs()
        guard statvfs(path, &statistics) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return UInt64(statistics.f_blocks - statistics.f_bfree) * UInt64(statistics.f_frsize)
    }

    @Test func aPullFromPeersThatFillsTheDiskRemovesWhatItStoredAndSaysTheDiskIsFull() async throws {
        let scratch = try TemporaryDirectory()
        _ = try Fixtures.copy(try Fixtures.syntheticShards(), to: scratch.appending("hub/acme/shards"))
        // A file system of 16 MiB, less than the model's 41 MB, that this test mounts itself (as root).
        let small = scratch.appending("small")
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        try #require(mount("tmpfs", small, "tmpfs", 0, "size=16m") == 0, "mounting a tmpfs needs root: errno \(errno)")
        defer { umount2(small, Int32(MNT_DETACH)) }

        let hub = HubServer(configuration: try HubServerConfiguration(root: scratch.appending("hub")))
        try await hub.withRunning { address in
            let members = [SwarmMembers(), SwarmMembers()]
            let agents = try zip([scratch.appending("node0"), "\(small)/store"], members).map { root, member in
                try AgentService(
                    configuration: AgentConfiguration(
                        storeRoot: root, listenHost: "127.0.0.1", listenPort: 0, token: "swarm-token",
                        hub: try HubClientConfiguration(endpoint: address.endpoint), discovery: member
                    )
                )
            }
            try await RunningServices.with(agents) { _ in
                var ports: [PeerAddress] = []
                for agent in agents { ports.append(PeerAddress(host: "127.0.0.1", port: await agent.boundPort())) }
                members[0].set([ports[1]])
                members[1].set([ports[0]])

                let model = try HubModelReference("acme/shards")
                _ = try await agents[0].pull(model)
                let before = try Self.usedBytes(small)
                await #expect {
                    _ = try await agents[1].pull(model)
                } throws: { error in
                    let message = "\(error)"
                    return message.contains("no space left on the device holding the store") && message.contains("nothing of it was kept")
                }
                let after = try Self.usedBytes(small)
                #expect(after <= before + (1 << 20), "the pull left \(after - min(after, before)) bytes behind")
                #expect(ChunkFiles.list(storeRoot: "\(small)/store").isEmpty)
                #expect((try? FileManager.default.contentsOfDirectory(atPath: "\(small)/store/partial"))?.isEmpty ?? true)

                // The agent is still up and what fits still pulls.
                let one = try await agents[1].pull(model, filename: "config.json")
                #expect(one.manifest.files.map(\.path) == ["config.json"])
                #expect(try agents[1].store.verify().isClean)
            }
        }
    }
}
