import Foundation
import MantaKube
import MantaStore
import MantaTestSupport
import Testing

/// Several `manta up` instances on one API: one serves it over TLS with a token and prints the join command, the
/// others join with it; replicas spread over every instance, the hub sends about one copy, and a wrong token, a
/// wrong certificate or a plain-HTTP URL is refused before anything joins.
@Suite(.serialized, .timeLimit(.minutes(5))) struct UpJoinTests {
    /// The API's URL and certificate hash from the join command the first instance printed.
    static func joinCommand(_ up: UpProcess) async throws -> (server: String, sha256: String) {
        var words: [Substring] = []
        try await eventually("manta up prints the join command (output: \(up.output))") {
            words = up.output.split(separator: "\n").first { $0.hasPrefix("manta up: join another machine with: ") }?.split(separator: " ") ?? []
            return !words.isEmpty
        }
        func value(after flag: String) throws -> String {
            guard let index = words.firstIndex(of: Substring(flag)), index + 1 < words.count else { throw TestFailure("no \(flag) in \(words)") }
            return String(words[index + 1])
        }
        return (try value(after: "--join"), try value(after: "--join-ca-sha256"))
    }

    /// The first instance, serving its API over TLS on loopback, and a copy of its token as a user would make.
    static func serving(_ scratch: TemporaryDirectory, hub: String) async throws -> (up: UpProcess, server: String, sha256: String, token: String) {
        let first = try await UpProcess.start(
            scratch.appending("first"), hub: hub, ["--node-name", "first", "--api-listen", "127.0.0.1:0", "--api-tls"])
        do {
            let (server, sha256) = try await joinCommand(first)
            let token = scratch.appending("token-copy")
            try FileManager.default.copyItem(atPath: first.directory + "/api/token", toPath: token)
            return (first, server, sha256, token)
        } catch {
            await first.stop()
            throw error
        }
    }

    @Test func aJoinedInstanceSharesTheAPIReplicasSpreadOverBothAndTheHubSendsAboutOneCopy() async throws {
        try await UpEndToEndTests.withHub { hub, scratch in
            let (first, server, sha256, token) = try await Self.serving(scratch, hub: hub)
            var instances = [first]
            do {
                let second = try await Self.joining(scratch, hub: hub, first: first, server: server, sha256: sha256, token: token)
                instances.append(second)
                #expect(!FileManager.default.fileExists(atPath: second.apiSocket), "a joined instance runs no API of its own")

                // Applied on the joined machine: its commands reach the API it joined.
                let applied = try await second.run(["apply", "-f", Self.twoReplicas(scratch)])
                #expect(applied.succeeded, "\(applied.standardError)")
                _ = try await first.waitForPhase("spread", .ready)

                let replications = try await first.client.list(Replication.self).items.filter { $0.spec.torrentName == "spread" }
                #expect(
                    Set(replications.map(\.spec.nodeName)) == ["first", "second"],
                    "one replica on each instance: \(replications.map(\.spec.nodeName))")
                #expect(replications.allSatisfy { $0.status?.phase == .ready })
                let held = Set(ChunkFiles.list(storeRoot: second.storeRoot).map(\.id))
                #expect(!held.isEmpty && held == Set(ChunkFiles.list(storeRoot: first.storeRoot).map(\.id)), "both stores hold the model")

                // The hub sends about one copy: the instance that pulled second took the model from the first.
                let modelBytes = replications.first?.spec.source.totalBytes ?? 0
                let pulled = try await first.client.list(Event.self).items.filter { $0.reason == "Pulled" }
                #expect(pulled.count == 2, "\(pulled.map(\.message))")
                let fromHub = pulled.compactMap { event -> Int64? in
                    guard let message = event.message, let range = message.range(of: " bytes from the hub") else { return nil }
                    return Int64(message[..<range.lowerBound].split(separator: " ").last ?? "")
                }.reduce(0, +)
                #expect(modelBytes > 0 && Double(fromHub) <= 1.1 * Double(modelBytes), "hub sent \(fromHub) bytes for a model of \(modelBytes)")

                // One controller leads; the joined one waits for the Lease.
                let lease = try await first.client.get(Lease.self, name: "manta-controller", namespace: "default")
                #expect(
                    ["first", "second"].contains(lease.spec?.holderIdentity ?? ""), "the Lease has one holder: \(String(describing: lease.spec))")

                let listed = try await second.run(["get", "torrents"])
                #expect(listed.standardOutput.contains("spread"), "\(listed.standardOutput) \(listed.standardError)")
            } catch {
                for instance in instances { await instance.stop() }
                throw error
            }
            for instance in instances { await instance.stop() }
        }
    }

    @Test func aJoinedInstanceOutlivesARestartOfTheInstanceServingTheAPI() async throws {
        try await UpEndToEndTests.withHub { hub, scratch in
            // A fixed port, so the API comes back where the joined instance looks for it.
            let arguments = ["--node-name", "first", "--api-listen", "127.0.0.1:\(try ScriptedHTTPServer.freeLoopbackPort())", "--api-tls"]
            var first = try await UpProcess.start(scratch.appending("first"), hub: hub, arguments)
            var instances = [first]
            do {
                let (server, sha256) = try await Self.joinCommand(first)
                let token = scratch.appending("token-copy")
                try FileManager.default.copyItem(atPath: first.directory + "/api/token", toPath: token)
                let second = try await Self.joining(scratch, hub: hub, first: first, server: server, sha256: sha256, token: token)
                instances.append(second)
                await first.stop()
                try await Task.sleep(for: .seconds(3))
                #expect(second.process.isRunning, "the joined instance waits for its API: \(second.logTail())")
                first = try await UpProcess.start(first.directory, hub: hub, arguments)
                instances[0] = first
                let again = try await Self.joinCommand(first)
                #expect(again.server == server && again.sha256 == sha256, "the restarted API keeps its certificate, so the join command stays valid")

                _ = try await second.run(["apply", "-f", Self.twoReplicas(scratch)])
                _ = try await first.waitForPhase("spread", .ready)
                let nodes = try await first.client.list(Replication.self).items.filter { $0.status?.phase == .ready }.map(\.spec.nodeName)
                #expect(Set(nodes) == ["first", "second"], "\(nodes)")
            } catch {
                for instance in instances { await instance.stop() }
                throw error
            }
            for instance in instances { await instance.stop() }
        }
    }

    /// A second instance, `second`, joining `first` with its printed command; its test client goes through the API too.
    static func joining(
        _ scratch: TemporaryDirectory, hub: String, first: UpProcess, server: String, sha256: String, token: String
    ) async throws -> UpProcess {
        var joined = KubeConfig(
            server: server, credentials: .tokenFile(token),
            certificateAuthorityPEM: Array(try Data(contentsOf: URL(fileURLWithPath: first.directory + "/api/tls.crt"))))
        joined.verifiesHostname = false
        return try await UpProcess.start(
            scratch.appending("second"), hub: hub,
            ["--node-name", "second", "--join", server, "--join-token-file", token, "--join-ca-sha256", sha256],
            node: "second", api: joined)
    }

    /// A Torrent of the GGUF fixture with two replicas.
    static func twoReplicas(_ scratch: TemporaryDirectory) throws -> String {
        let manifest = scratch.appending("two-replicas.yaml")
        try Data(
            "apiVersion: manta.io/v1alpha1\nkind: Torrent\nmetadata:\n  name: spread\nspec:\n  replicas: 2\n  hub:\n    repoID: Qwen/Qwen3-0.6B\n"
                .utf8
        )
        .write(to: URL(fileURLWithPath: manifest))
        return manifest
    }

    @Test func aWrongTokenAWrongCertificateOrPlainHTTPIsRefusedAndNothingJoins() async throws {
        try await UpEndToEndTests.withHub { hub, scratch in
            let (first, server, sha256, token) = try await Self.serving(scratch, hub: hub)
            do {
                let wrongToken = scratch.appending("wrong-token")
                try Data("not-the-token\n".utf8).write(to: URL(fileURLWithPath: wrongToken))
                let otherHash = String(repeating: "0", count: 64)
                let attempts: [(arguments: [String], says: String)] = [
                    (["--join", server, "--join-token-file", wrongToken, "--join-ca-sha256", sha256], "refused the token in \(wrongToken) (401)"),
                    (
                        ["--join", server, "--join-token-file", token, "--join-ca-sha256", otherHash],
                        "presents a certificate whose SHA-256 is not \(otherHash)"
                    ),
                    (
                        [
                            "--join", server.replacingOccurrences(of: "https://", with: "http://"), "--join-token-file", token, "--join-ca-sha256",
                            sha256,
                        ], "is not https://host:port"
                    ),
                    (["--join", server, "--join-token-file", token], "needs one of --join-ca-sha256"),
                ]
                for (index, attempt) in attempts.enumerated() {
                    let joining = try await MantaProcess.runAwaitingExit(
                        ["up", "--dir", scratch.appending("refused-\(index)"), "--listen", "127.0.0.1:0", "--node-name", "refused"]
                            + attempt.arguments)
                    #expect(!joining.succeeded && joining.standardError.contains(attempt.says), "\(attempt.arguments): \(joining.standardError)")
                }
                #expect(try await first.client.list(NodeTracker.self).items.map(\.name) == ["first"], "nothing joined")

                // Over TCP every request needs the token; the certificate alone is public.
                var anonymous = KubeConfig(
                    server: server, certificateAuthorityPEM: Array(try Data(contentsOf: URL(fileURLWithPath: first.directory + "/api/tls.crt"))))
                anonymous.verifiesHostname = false
                let client = try KubeClient(config: anonymous, logger: quietLogger)
                await #expect(throws: KubeError.self) { _ = try await client.list(Torrent.self) }
                struct Certificate: Decodable { var certificate: String }
                let certificate = try await client.get(path: "/manta/v1/certificate", as: Certificate.self)
                #expect(certificate.certificate.contains("BEGIN CERTIFICATE"))
                try await client.shutdown()
            } catch {
                await first.stop()
                throw error
            }
            await first.stop()
        }
    }
}
