import Foundation
import MantaAgent
import MantaHub
import MantaKube
import MantaStore
import MantaTestSupport
import Testing

/// `manta up` as a user runs it, with a local hub: the original Manta's sample Torrents applied unchanged become
/// Ready and readable in the mount, TTL and reclaim work, a restart keeps everything, bad manifests store nothing,
/// two instances share a model as peers, and kubectl talks to the embedded API.
@Suite(.serialized, .timeLimit(.minutes(5)), .threadsOfItsOwn) struct UpEndToEndTests {
    static let samples = PackageFolder.path + "/deploy/samples"
    /// The repositories the samples name, each the GGUF fixture with a config.
    static let repositories = ["Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen3-0.6B"]

    /// A hub serving `repositories`, and a scratch folder.
    static func withHub(_ body: @Sendable (_ endpoint: String, _ scratch: TemporaryDirectory) async throws -> Void) async throws {
        let scratch = try TemporaryDirectory("manta-up")
        for repo in repositories {
            let folder = scratch.appending("hub/\(repo)")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: "\(try Fixtures.gguf())/model.gguf", toPath: "\(folder)/model.gguf")
            try Data("{\"model_type\": \"\(repo)\"}\n".utf8).write(to: URL(fileURLWithPath: "\(folder)/config.json"))
        }
        let hub = HubServer(configuration: try HubServerConfiguration(root: scratch.appending("hub")))
        try await hub.withRunning { address in try await body(address.endpoint, scratch) }
    }

    @Test func theOriginalSamplesBecomeReadyInTheMountAndReclaimDeleteFreesTheChunks() async throws {
        try await Self.withHub { hub, scratch in
            let mount = scratch.appending("mnt")
            try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
            let up = try await UpProcess.start(scratch.appending("up"), hub: hub, ["--mount", mount, "--node-labels", "zone=zone-a"])
            do {
                let applied = try await up.run(["apply", "-f", Self.samples + "/torrent-sample.yaml"])
                #expect(applied.succeeded && applied.standardOutput.contains("torrent.manta.io/torrent-sample created"), "\(applied.standardError)")
                let ready = try await up.waitForPhase("torrent-sample", .ready)
                #expect(ready.status?.readyReplicas == 1)
                let waited = try await MantaProcess.runAwaitingExit([
                    "wait", "--torrent", "torrent-sample", "--socket", up.storeRoot + "/agent.sock", "--timeout", "30s",
                ])
                #expect(waited.succeeded, "\(waited.standardError)")

                let original = "\(scratch.path)/hub/Qwen/Qwen2.5-0.5B-Instruct"
                for file in ["model.gguf", "config.json"] {
                    let mounted = FileManager.default.contents(atPath: "\(mount)/models/Qwen/Qwen2.5-0.5B-Instruct/\(file)")
                    #expect(mounted != nil && mounted == FileManager.default.contents(atPath: "\(original)/\(file)"), "\(file) through the mount")
                }

                let table = try await up.run(["get", "torrents"])
                #expect(
                    table.standardOutput.contains("torrent-sample") && table.standardOutput.contains("Ready")
                        && table.standardOutput.contains("100%"), "\(table.standardOutput)")
                let described = try await up.run(["describe", "torrent", "torrent-sample"])
                #expect(described.standardOutput.contains("Pulled") && described.standardOutput.contains("Ready"), "\(described.standardOutput)")
                let json = try await up.run(["get", "torrents", "torrent-sample", "-o", "json"])
                #expect(json.standardOutput.contains("\"phase\" : \"Ready\""), "\(json.standardOutput)")

                // The other two samples are the same Torrent with a nodeSelector, then with reclaimPolicy: Delete.
                for sample in ["torrent-node-selector.yaml", "torrent-reclaim-delete.yaml"] {
                    let result = try await up.run(["apply", "-f", "\(Self.samples)/\(sample)"])
                    #expect(result.succeeded && result.standardOutput.contains("configured"), "\(sample): \(result.standardError)")
                }
                let reclaiming = try #require(try await up.torrent("torrent-sample"))
                #expect(reclaiming.spec.reclaimPolicy == .delete && reclaiming.spec.nodeSelector == nil)
                #expect(!ChunkFiles.list(storeRoot: up.storeRoot).isEmpty)

                let deleted = try await up.run(["delete", "torrent", "torrent-sample", "--timeout", "60s"])
                #expect(deleted.succeeded && deleted.standardOutput.contains("deleted"), "\(deleted.standardError)")
                try await eventually("the deleted Torrent's chunks are freed") { ChunkFiles.list(storeRoot: up.storeRoot).isEmpty }
            } catch {
                await up.stop()
                throw error
            }
            await up.stop()
        }
    }

    @Test func aRestartKeepsEveryTorrentAndItsStatusAndTTLDeletesAfterReady() async throws {
        try await Self.withHub { hub, scratch in
            let folder = scratch.appending("up")
            var up = try await UpProcess.start(folder, hub: hub)
            let before: Torrent
            do {
                let applied = try await up.run(["apply", "-f", Self.samples + "/torrent-sample.yaml", "-f", Self.samples + "/torrent-minimal.yaml"])
                #expect(applied.succeeded, "\(applied.standardError)")
                before = try await up.waitForPhase("torrent-sample", .ready)
                _ = try await up.waitForPhase("qwen3-0-6b", .ready)
            } catch {
                await up.stop()
                throw error
            }
            await up.stop()

            up = try await UpProcess.start(folder, hub: hub)
            do {
                let after = try #require(try await up.torrent("torrent-sample"))
                #expect(after.status?.phase == .ready && after.status?.readyReplicas == 1, "the status survives the restart")
                #expect(after.metadata.uid == before.metadata.uid)
                #expect(
                    Int(after.metadata.resourceVersion ?? "") ?? 0 >= Int(before.metadata.resourceVersion ?? "") ?? .max, "resource versions continue"
                )
                #expect(try await up.torrent("qwen3-0-6b")?.status?.phase == .ready)

                let ttl = try await up.run(["apply", "-f", Self.samples + "/torrent-ttl.yaml"])
                #expect(ttl.succeeded, "\(ttl.standardError)")
                try await eventually("ttlSecondsAfterReady: 0 deletes the Torrent once Ready; log: \(up.logTail())", timeout: .seconds(90)) {
                    try await up.torrent("qwen3-0-6b-warmup") == nil
                }
                #expect(try await up.torrent("qwen3-0-6b")?.status?.phase == .ready, "Retain: the model the TTL'd Torrent shared stays")
            } catch {
                await up.stop()
                throw error
            }
            await up.stop()
        }
    }

    @Test func getWatchPrintsEachChangeUntilReady() async throws {
        try await Self.withHub { hub, scratch in
            let up = try await UpProcess.start(scratch.appending("up"), hub: hub)
            let output = scratch.appending("watch.out")
            guard FileManager.default.createFile(atPath: output, contents: nil) else { throw TestFailure("cannot create \(output)") }
            let watch = try MantaProcess.process(["get", "torrents", "-w", "--dir", up.directory])
            watch.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            try watch.run()
            do {
                try await eventually("the watch prints its empty listing") {
                    (try String(contentsOfFile: output, encoding: .utf8)).contains("No torrents found.")
                }
                _ = try await up.run(["apply", "-f", Self.samples + "/torrent-minimal.yaml"])
                try await eventually("the watch prints the Torrent reaching Ready") {
                    let lines = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
                    return lines.contains { $0.hasPrefix("qwen3-0-6b") && $0.contains("Pending") }
                        && lines.contains { $0.hasPrefix("qwen3-0-6b") && $0.contains("Ready") && $0.contains("100%") }
                }
            } catch {
                await Cluster.stop([watch])
                await up.stop()
                throw error
            }
            await Cluster.stop([watch])
            await up.stop()
        }
    }

    @Test func invalidYAMLAndInvalidTorrentsAreRefusedWithTheSchemasMessageAndNothingIsStored() async throws {
        try await Self.withHub { hub, scratch in
            let up = try await UpProcess.start(scratch.appending("up"), hub: hub)
            do {
                let cases: [(yaml: String, message: String)] = [
                    ("apiVersion: manta.io/v1alpha1\nkind: Torrent\nmetadata: {name: broken\nspec: [", "is not valid YAML"),
                    (
                        "apiVersion: manta.io/v1alpha1\nkind: Torrent\nmetadata:\n  name: zero\nspec:\n  hub:\n    repoID: Qwen/Qwen3-0.6B\n  replicas: 0\n",
                        "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"
                    ),
                    (
                        "apiVersion: manta.io/v1alpha1\nkind: Torrent\nmetadata:\n  name: good\nspec:\n  hub:\n    repoID: Qwen/Qwen3-0.6B\n---\n"
                            + "apiVersion: manta.io/v1alpha1\nkind: Torrent\nmetadata:\n  name: bad\nspec:\n  hub:\n    repoID: Qwen/Qwen3-0.6B\n  reclaimPolicy: Sometimes\n",
                        "spec.reclaimPolicy: Unsupported value: \"Sometimes\": supported values: \"Retain\", \"Delete\""
                    ),
                    ("apiVersion: manta.io/v1alpha1\nkind: Torrent\nmetadata:\n  name: nohub\nspec: {}\n", "spec.hub: Required value"),
                ]
                for (index, item) in cases.enumerated() {
                    let file = scratch.appending("bad-\(index).yaml")
                    try Data(item.yaml.utf8).write(to: URL(fileURLWithPath: file))
                    let result = try await up.run(["apply", "-f", file])
                    #expect(!result.succeeded)
                    #expect(
                        result.standardError.contains(item.message) && result.standardError.contains("nothing was applied"), "\(result.standardError)"
                    )
                }
                #expect(try await up.client.list(Torrent.self).items.isEmpty, "nothing stored")

                // What kubectl sends goes through the same schema on the server.
                let invalid = Torrent(name: "zero", spec: .init(hub: .init(repoID: "Qwen/Qwen3-0.6B"), replicas: 0))
                await #expect(throws: KubeError.self) { _ = try await up.client.create(invalid) }
                #expect(try await up.client.list(Torrent.self).items.isEmpty, "nothing stored")
            } catch {
                await up.stop()
                throw error
            }
            await up.stop()
        }
    }

    @Test func twoInstancesAsPeersTheSecondTakesTheModelFromTheFirst() async throws {
        try await Self.withHub { hub, scratch in
            let first = try await UpProcess.start(scratch.appending("first"), hub: hub, ["--node-name", "first"])
            var instances = [first]
            do {
                _ = try await first.run(["apply", "-f", Self.samples + "/torrent-sample.yaml"])
                _ = try await first.waitForPhase("torrent-sample", .ready)
                let address = try #require(first.agentAddress)
                let second = try await UpProcess.start(scratch.appending("second"), hub: hub, ["--node-name", "second", "--peers", address])
                instances.append(second)
                _ = try await second.run(["apply", "-f", Self.samples + "/torrent-sample.yaml"])
                _ = try await second.waitForPhase("torrent-sample", .ready)

                let pulled = try await second.client.list(Event.self).items.first { $0.reason == "Pulled" }
                let message = pulled?.message ?? ""
                #expect(message.contains(" 0 bytes from the hub"), "the second node read nothing from the hub: \(message)")
                let held = Set(ChunkFiles.list(storeRoot: second.storeRoot).map(\.id))
                #expect(
                    !held.isEmpty && held == Set(ChunkFiles.list(storeRoot: first.storeRoot).map(\.id)), "it holds the model, taken from the first")
            } catch {
                for instance in instances { await instance.stop() }
                throw error
            }
            for instance in instances { await instance.stop() }
        }
    }

    @Test func kubectlGetsAppliesAndDeletesTorrentsOnTheEmbeddedAPI() async throws {
        guard let kubectl = ["/usr/local/bin/kubectl", "/usr/bin/kubectl"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            print("kubectl is not installed: skipping the kubectl test")
            return
        }
        try await Self.withHub { hub, scratch in
            let up = try await UpProcess.start(scratch.appending("up"), hub: hub, ["--api-listen", "127.0.0.1:0"])
            do {
                var server = ""
                try await eventually("manta up prints its API address") {
                    server =
                        up.output.split(separator: "\n").first { $0.hasPrefix("manta up: API at ") }.map {
                            String($0.dropFirst("manta up: API at ".count))
                        } ?? ""
                    return !server.isEmpty
                }
                let address = server
                func kubectlRun(_ arguments: [String]) async throws -> MantaProcess.Result {
                    try await blocking { try MantaProcess.run(["--server", address] + arguments, executable: kubectl) }
                }
                // kubectl validates by default: it reads /openapi/v3 and leaves the checks to the server's Torrent schema.
                let applied = try await kubectlRun(["apply", "-f", Self.samples + "/torrent-minimal.yaml"])
                #expect(applied.succeeded && applied.standardOutput.contains("created"), "\(applied.standardError)")
                let invalid = scratch.appending("invalid-torrent.yaml")
                try Data(
                    "apiVersion: manta.io/v1alpha1\nkind: Torrent\nmetadata:\n  name: no-replicas\nspec:\n  replicas: 0\n  hub:\n    repoID: a/b\n"
                        .utf8
                )
                .write(to: URL(fileURLWithPath: invalid))
                let refused = try await kubectlRun(["apply", "-f", invalid])
                #expect(!refused.succeeded, "\(refused.standardOutput)")
                #expect(refused.standardError.contains("spec.replicas in body should be greater than or equal to 1"), "\(refused.standardError)")
                #expect(try await up.torrent("no-replicas") == nil)
                // A server dry run checks and answers, and stores nothing.
                let dryRun = try await kubectlRun(["apply", "--dry-run=server", "-f", Self.samples + "/torrent-sample.yaml"])
                #expect(
                    dryRun.succeeded && dryRun.standardOutput.contains("created (server dry run)"), "\(dryRun.standardOutput) \(dryRun.standardError)"
                )
                #expect(try await up.torrent("torrent-sample") == nil)
                let invalidDryRun = try await kubectlRun(["apply", "--dry-run=server", "-f", invalid])
                #expect(
                    !invalidDryRun.succeeded && invalidDryRun.standardError.contains("greater than or equal to 1"), "\(invalidDryRun.standardError)")
                let misspelt = scratch.appending("misspelt-torrent.yaml")
                try Data(
                    "apiVersion: manta.io/v1alpha1\nkind: Torrent\nmetadata:\n  name: misspelt\nspec:\n  replica: 2\n  hub:\n    repoID: a/b\n".utf8
                )
                .write(to: URL(fileURLWithPath: misspelt))
                let strict = try await kubectlRun(["apply", "-f", misspelt])
                #expect(!strict.succeeded && strict.standardError.contains("unknown field \"spec.replica\""), "\(strict.standardError)")
                #expect(try await up.torrent("misspelt") == nil)
                // Warn: stored without the unknown field, and kubectl shows the server's warning.
                let warned = try await kubectlRun(["apply", "--validate=warn", "-f", misspelt])
                #expect(warned.succeeded && warned.standardError.contains("Warning: unknown field \"spec.replica\""), "\(warned.standardError)")
                #expect(try await up.torrent("misspelt")?.spec.replicas == 1, "the unknown field was dropped; replicas kept its default")
                let deletedDryRun = try await kubectlRun(["delete", "torrent", "misspelt", "--dry-run=server"])
                #expect(
                    deletedDryRun.succeeded && deletedDryRun.standardOutput.contains("server dry run"),
                    "\(deletedDryRun.standardOutput) \(deletedDryRun.standardError)")
                #expect(try await up.torrent("misspelt") != nil)
                // kubectl get -w prints the CRD's columns for each change, as against a cluster; the watch is cut after a few seconds.
                let watched = try await blocking {
                    try MantaProcess.run(["5", kubectl, "--server", address, "get", "torrents", "-w"], executable: "/usr/bin/timeout")
                }
                #expect(
                    watched.standardOutput.contains("PHASE") && watched.standardOutput.contains("misspelt"),
                    "\(watched.standardOutput) \(watched.standardError)")
                _ = try await up.waitForPhase("qwen3-0-6b", .ready)
                let again = try await kubectlRun(["apply", "-f", Self.samples + "/torrent-minimal.yaml"])
                #expect(again.succeeded, "\(again.standardError)")
                let listed = try await kubectlRun(["get", "torrents"])
                #expect(listed.standardOutput.contains("qwen3-0-6b"), "\(listed.standardOutput) \(listed.standardError)")
                #expect(
                    listed.standardOutput.contains("PHASE") && listed.standardOutput.contains("Ready"),
                    "the CRD's printer columns: \(listed.standardOutput)")
                let yaml = try await kubectlRun(["get", "torrent", "qwen3-0-6b", "-o", "yaml"])
                #expect(yaml.standardOutput.contains("phase: Ready"), "\(yaml.standardOutput)")
                let deleted = try await kubectlRun(["delete", "torrent", "qwen3-0-6b", "--timeout=60s"])
                #expect(deleted.succeeded, "\(deleted.standardError)")
                #expect(try await up.torrent("qwen3-0-6b") == nil)
            } catch {
                await up.stop()
                throw error
            }
            await up.stop()
        }
    }
}
