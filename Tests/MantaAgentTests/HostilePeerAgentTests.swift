import Foundation
import MantaHub
import MantaPeer
import MantaStore
import MantaTestSupport
import Testing

/// A real `manta agent` process whose only peer is hostile (a listener on 127.0.0.1 answering the peer protocol
/// with numbers of its choosing): the agent stays up, logs which peer sent what, and pulls the model from the
/// hub, byte-identical.
@Suite struct HostilePeerAgentTests {
    enum Hostility: String, CaseIterable, Sendable {
        /// Claims to pull since before time began, with chunk entries whose end overflows and whose length is absurd.
        case swarmNumbers
        /// Claims to hold the revision complete; its manifest (served with its true digest) has an overflowing chunk.
        case overflowingManifest
        /// Announces a terabyte swarm answer.
        case hugeContentLength

        func answer(_ request: ScriptedHTTPServer.Request) -> ScriptedHTTPServer.Answer {
            let id = SHA256Hasher.hash([1]).hex
            let manifest = Array(
                (#"{"chunkSize":4194304,"files":[{"chunks":[{"id":"\#(id)","length":4,"offset":0},{"id":"\#(id)","length":18446744073709551612,"offset":4}],"#
                    + #""path":"model.bin","scheme":"fixed","sha256":"\#(id)","size":8}],"source":{"commit":"c","kind":"huggingface","repo":"acme/shards","revision":"main"},"version":1}"#)
                    .utf8
            )
            guard request.path == "/v1/swarm" else { return .init(status: 200, body: manifest) }
            let file =
                (try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any])?["files"].flatMap { ($0 as? [String])?.first } ?? "x"
            switch self {
            case .swarmNumbers:
                return .json(
                    #"{"node": "hostile", "pullingSince": -1e300, "chunks": {"\#(file)": [{"offset": 18446744073709551615, "length": 4294967296000, "id": "\#(id)"}]}}"#
                )
            case .overflowingManifest:
                return .json(#"{"node": "hostile", "manifest": "\#(SHA256Hasher.hash(manifest).prefixed)", "chunks": {}}"#)
            case .hugeContentLength:
                return .init(headers: [("Content-Length", "1099511627776")], body: Array("{}".utf8))
            }
        }

        /// What the agent's log must say of the peer's answer.
        var logged: String {
            switch self {
            case .swarmNumbers: "pullingSince"
            case .overflowingManifest: "above the largest chunk"
            case .hugeContentLength: "Content-Length"
            }
        }
    }

    @Test(arguments: Hostility.allCases)
    func anAgentWhosePeerIsHostileStaysUpAndPullsTheModelFromTheHub(_ hostility: Hostility) async throws {
        let scratch = try TemporaryDirectory()
        let repo = scratch.appending("hub/acme/shards")
        let size = try Fixtures.copy(try Fixtures.syntheticShards(), to: repo)
        let tokenFile = scratch.appending("token")
        let store = scratch.appending("store")
        let log = scratch.appending("agent.log")
        try "cluster-secret\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let hostile = try ScriptedHTTPServer { hostility.answer($0) }
        defer { hostile.stop() }
        let hub = HubServer(configuration: try HubServerConfiguration(root: scratch.appending("hub")))
        try await hub.withRunning { address in
            let (agent, port) = try await AgentProcessTests.startAgent(
                store: store, tokenFile: tokenFile, options: ["--endpoint", address.endpoint, "--peers", "127.0.0.1:\(hostile.port)"], errorLog: log
            )
            defer { agent.terminate() }
            let pulled = try await MantaProcess.runAwaitingExit(["pull", "acme/shards", "--store", store])
            try #require(pulled.succeeded, "\(pulled.standardError)")
            #expect(agent.isRunning, "the agent survived its hostile peer")
            #expect(hostile.requests.contains { $0.path == "/v1/swarm" }, "the hostile peer was asked")
            #expect(hub.statistics.totalBytesServed >= size, "the model came from the hub")

            let exported = scratch.appending("export")
            try await blocking { try Store(root: store).export(try RepoReference(parsing: "acme/shards@main"), to: exported) }
            for name in try FileManager.default.contentsOfDirectory(atPath: repo) {
                #expect(FileManager.default.contentsEqual(atPath: "\(exported)/\(name)", andPath: "\(repo)/\(name)"), "\(name)")
            }
            let text = try String(contentsOfFile: log, encoding: .utf8)
            #expect(text.contains("127.0.0.1:\(hostile.port)") && text.contains(hostility.logged), "\(text)")
            #expect(
                try await PeerClient(token: "cluster-secret").manifest(
                    try #require(try Store(root: store).resolve(try RepoReference(parsing: "acme/shards@main"))),
                    from: PeerAddress(host: "127.0.0.1", port: port)
                ).logicalSize == UInt64(size), "the agent still serves its peers")
        }
    }
}
