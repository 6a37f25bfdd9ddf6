import Foundation
import MantaPeer
import MantaStore
import MantaTestSupport
import Testing

/// A real `manta agent`, serving a mount and peers, asked to pull from a hub that lies: each pull fails with an error
/// naming the field, and the agent is still up afterwards, its mount reading the model it had byte for byte.
@Suite struct HostileHubAgentTests {
    @Test func pullsFromAHostileHubFailClearlyAndTheAgentKeepsServing() async throws {
        let node = try AgentProcessTests.GGUFNode()
        let hub = try HostileHub { path, endpoint in
            if path.hasPrefix("/api/models/acme/retry/") {
                return HostileHub.Answer(status: "503 Service Unavailable", headers: [("Retry-After", "99999999999999999999")])
            }
            if let info = HostileHub.modelInfo(path) { return info }
            if path.hasPrefix("/api/models/acme/sizes/") {
                return .json(
                    "["
                        + [HostileHub.entry("a", size: "9223372036854775807"), HostileHub.entry("b", size: "9223372036854775807")].joined(
                            separator: ",") + "]")
            }
            let cursor = Int(path.split(separator: "=").last ?? "") ?? 0
            return .json("[]", headers: [("Link", "<\(endpoint)/api/models/acme/pages/tree/x?cursor=\(cursor + 1)>; rel=\"next\"")])
        }
        defer { hub.close() }
        let (agent, port) = try await AgentProcessTests.startAgent(
            store: node.store, mount: node.mount, tokenFile: node.tokenFile, options: ["--endpoint", hub.endpoint]
        )
        defer { if agent.isRunning { agent.terminate() } }

        for (repo, phrase) in [("acme/sizes", "MANTA_HUB_MAX_FILE_SIZE"), ("acme/pages", "MANTA_HUB_MAX_PAGES"), ("acme/retry", "HTTP 503")] {
            let pull = try await MantaProcess.runAwaitingExit(["pull", repo, "--store", node.store])
            #expect(pull.status == 1, "\(repo): \(pull.standardError)")
            #expect(pull.standardError.contains(phrase), "\(repo): \(pull.standardError)")
            #expect(agent.isRunning, "the agent survived the pull of \(repo)")
            #expect(try Store(root: node.store).resolve(try RepoReference(parsing: "\(repo)@main")) == nil)
        }

        let served = try Data(contentsOf: URL(fileURLWithPath: "\(node.mount)/models/acme/gguf/model.gguf"))
        #expect(served == (try Data(contentsOf: URL(fileURLWithPath: "\(try Fixtures.gguf())/model.gguf"))))
        let manifest = try await PeerClient(token: "cluster-secret").manifest(node.digest, from: PeerAddress(host: "127.0.0.1", port: port))
        #expect(!manifest.files.isEmpty)
    }
}
