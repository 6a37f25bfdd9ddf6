import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import MantaCSI
import MantaHub
import MantaStore
import MantaTestSupport
import Testing

/// The agent's CSI node plugin driven as kubelet drives it: a gRPC client on its unix socket, real read-only bind
/// mounts of the agent's FUSE mount into target folders.
@Suite(.threadsOfItsOwn) struct CSINodePluginTests {
    /// A `manta agent --csi-socket` over a store holding the GGUF fixture as `acme/gguf`, mounted.
    struct PluginNode {
        let node: AgentProcessTests.GGUFNode
        let agent: Process
        let socket: String
        var scratch: TemporaryDirectory { node.scratch }

        init(options: [String] = [], node: AgentProcessTests.GGUFNode? = nil) async throws {
            let node = try node ?? AgentProcessTests.GGUFNode()
            self.node = node
            socket = node.scratch.appending("csi/csi.sock")
            (agent, _) = try await AgentProcessTests.startAgent(
                store: node.store, mount: node.mount, tokenFile: node.tokenFile, options: ["--csi-socket", socket] + options,
                errorLog: node.scratch.appending("agent.log"))
            try await CSIClient.waitForSocket(socket)
        }

        func target(_ name: String) -> String { scratch.appending("pods/\(name)/volumes/models") }

        func stop() {
            guard agent.isRunning else { return }
            kill(agent.processIdentifier, SIGTERM)
            agent.waitUntilExit()
        }
    }

    @Test func identityAndNodeInfoNameTheDriverTheNodeAndNoOtherServices() async throws {
        let plugin = try await PluginNode()
        defer { plugin.stop() }
        try await CSIClient.with(plugin.socket) { client in
            let info = try await client.identity.getPluginInfo(Csi_V1_GetPluginInfoRequest())
            #expect(info.name == "csi.manta.io")
            #expect(!info.vendorVersion.isEmpty)
            #expect(try await client.identity.probe(Csi_V1_ProbeRequest()).ready.value)
            #expect(try await client.identity.getPluginCapabilities(Csi_V1_GetPluginCapabilitiesRequest()).capabilities.isEmpty)
            #expect(try await client.node.nodeGetCapabilities(Csi_V1_NodeGetCapabilitiesRequest()).capabilities.isEmpty)
            #expect(try await client.node.nodeGetInfo(Csi_V1_NodeGetInfoRequest()).nodeID == ProcessInfo.processInfo.hostName)
        }
        var information = stat()
        try #require(stat(plugin.socket, &information) == 0)
        #expect(information.st_mode & 0o777 == 0o600, "only root (kubelet) may use the socket")
    }

    @Test func aPublishedModelReadsBackByteIdenticalRefusesWritesAndPublishAndUnpublishAreIdempotent() async throws {
        let plugin = try await PluginNode()
        defer { plugin.stop() }
        let target = plugin.target("reader")
        let original = try Data(contentsOf: URL(fileURLWithPath: "\(try Fixtures.gguf())/model.gguf"))
        try await CSIClient.with(plugin.socket) { client in
            try await client.publish(target: target, attributes: ["model": "acme/gguf", "csi.storage.k8s.io/ephemeral": "true"])
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(target)/model.gguf")) == original)
            #expect(
                try Self.volumeHolders(plugin) == ["volume:" + Self.normalized(target)], "the published model is held, so the quota cannot evict it")

            #expect(open("\(target)/model.gguf", O_WRONLY) == -1 && errno == EROFS, "writing a model file through the bind fails with EROFS")
            #expect(open("\(target)/new-file", O_WRONLY | O_CREAT, 0o644) == -1 && errno == EROFS, "creating a file in the bind fails with EROFS")
            #expect(mkdir("\(target)/folder", 0o755) == -1 && errno == EROFS)

            try await client.publish(target: target, attributes: ["model": "acme/gguf", "csi.storage.k8s.io/ephemeral": "true"])
            #expect(Self.mountCount(at: target) == 1, "a second publish of the same target mounts nothing more")
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(target)/model.gguf")) == original)

            try await client.unpublish(target: target)
            #expect(Self.mountCount(at: target) == 0)
            #expect(!FileManager.default.fileExists(atPath: target), "unpublish removes the target folder")
            #expect(try Self.volumeHolders(plugin).isEmpty, "unpublish releases the hold")
            try await client.unpublish(target: target)
        }
    }

    @Test func aStaticVolumeNamesItsModelInTheVolumeHandle() async throws {
        let plugin = try await PluginNode()
        defer { plugin.stop() }
        let target = plugin.target("static")
        try await CSIClient.with(plugin.socket) { client in
            try await client.publish(target: target, volumeID: "acme/gguf@main", attributes: [:])
            #expect(FileManager.default.fileExists(atPath: "\(target)/model.gguf"))
            try await client.unpublish(target: target)
        }
    }

    @Test func unpublishWhileAReaderHoldsAFileDetachesTheBindAndTheReaderKeepsReading() async throws {
        let plugin = try await PluginNode()
        defer { plugin.stop() }
        let target = plugin.target("busy")
        let original = try Data(contentsOf: URL(fileURLWithPath: "\(try Fixtures.gguf())/model.gguf"))
        try await CSIClient.with(plugin.socket) { client in
            try await client.publish(target: target, attributes: ["model": "acme/gguf"])
            let reader = try FileHandle(forReadingFrom: URL(fileURLWithPath: "\(target)/model.gguf"))
            defer { try? reader.close() }
            let head = try #require(try reader.read(upToCount: 4096))

            try await client.unpublish(target: target)
            #expect(Self.mountCount(at: target) == 0)
            #expect(!FileManager.default.fileExists(atPath: target))
            let rest = try reader.readToEnd() ?? Data()
            #expect(head + rest == original, "the reader that held the file reads it to the end after the unpublish")
        }
    }

    @Test func badRequestsAreRefusedWithInvalidArgumentNamingTheField() async throws {
        let plugin = try await PluginNode()
        defer { plugin.stop() }
        let target = plugin.target("refused")
        let refusals: [(attributes: [String: String], readonly: Bool, names: [String])] = [
            (["modle": "acme/gguf"], true, ["'modle'"]),
            (["model": "acme/gguf", "mode": "eager"], true, ["'mode'", "eager"]),
            (["model": "acme/gguf", "torrent": "t"], true, ["'torrent'", "'model'"]),
            (["torrent": "t", "revision": "v1"], true, ["'revision'"]),
            (["model": "not-a-model"], true, ["'model'"]),
            (["model": "acme/gguf", "revision": "../x"], true, ["'revision'"]),
            (["model": "acme/gguf", "csi.storage.k8s.io/ephemeral": "true"], false, ["readonly"]),
            (["csi.storage.k8s.io/ephemeral": "true"], true, ["'model'", "'torrent'"]),
        ]
        try await CSIClient.with(plugin.socket) { client in
            for refusal in refusals {
                let error = await #expect(throws: RPCError.self) {
                    try await client.publish(target: target, attributes: refusal.attributes, readonly: refusal.readonly)
                }
                #expect(error?.code == .invalidArgument, "\(refusal.attributes)")
                for name in refusal.names { #expect(error?.message.contains(name) == true, "\(error?.message ?? "") names \(name)") }
            }
            var block = Csi_V1_VolumeCapability()
            block.block = Csi_V1_VolumeCapability.BlockVolume()
            let blockError = await #expect(throws: RPCError.self) {
                try await client.publish(target: target, attributes: ["model": "acme/gguf"], capability: block)
            }
            #expect(blockError?.code == .invalidArgument && blockError?.message.contains("block") == true)
            let pathError = await #expect(throws: RPCError.self) {
                try await client.publish(target: "relative/path", attributes: ["model": "acme/gguf"])
            }
            #expect(pathError?.code == .invalidArgument && pathError?.message.contains("target_path") == true)
            let torrentError = await #expect(throws: RPCError.self) {
                try await client.publish(target: target, attributes: ["torrent": "some-torrent"])
            }
            #expect(torrentError?.code == .failedPrecondition, "an agent outside a cluster knows no Torrents")
        }
        #expect(Self.mountCount(at: target) == 0)
    }

    /// A local hub serving the GGUF fixture as `acme/<name>`, and a plugin node whose agent uses it.
    static func withHubServing(_ name: String, _ body: (PluginNode, CSIClient, _ original: Data) async throws -> Void) async throws {
        let scratch = try TemporaryDirectory()
        _ = try Fixtures.copy(try Fixtures.gguf(), to: scratch.appending("hub/acme/\(name)"))
        let original = try Data(contentsOf: URL(fileURLWithPath: "\(try Fixtures.gguf())/model.gguf"))
        let hub = HubServer(configuration: try HubServerConfiguration(root: scratch.appending("hub")))
        try await hub.withRunning { address in
            let plugin = try await PluginNode(options: ["--endpoint", address.endpoint])
            defer { plugin.stop() }
            try await CSIClient.with(plugin.socket) { client in try await body(plugin, client, original) }
        }
    }

    @Test func aWaitVolumeIsUnavailableWithProgressUntilThePullEndsAndAModelTheHubLacksIsNotFound() async throws {
        try await Self.withHubServing("pulled") { plugin, client, original in
            let target = plugin.target("pulled")
            let first = await #expect(throws: RPCError.self) { try await client.publish(target: target, attributes: ["model": "acme/pulled"]) }
            #expect(
                first?.code == .unavailable && first?.message.contains("acme/pulled") == true && first?.message.contains("pull") == true,
                "\(first?.message ?? "")")
            try await client.publishRetryingWhileUnavailable(target: target, attributes: ["model": "acme/pulled"])
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(target)/model.gguf")) == original)
            try await client.unpublish(target: target)

            let missing = plugin.target("missing")
            let waited = await #expect(throws: RPCError.self) {
                try await client.publishRetryingWhileUnavailable(target: missing, attributes: ["model": "acme/missing"])
            }
            #expect(waited?.code == .notFound, "\(waited?.message ?? "")")
            let lazy = await #expect(throws: RPCError.self) {
                try await client.publish(target: missing, attributes: ["model": "acme/missing", "mode": "lazy"])
            }
            #expect(lazy?.code == .notFound, "\(lazy?.message ?? "")")
        }
    }

    @Test func aLazyVolumeIsPublishedAtOnceAndReadsFetchFromTheHub() async throws {
        try await Self.withHubServing("lazy") { plugin, client, original in
            let target = plugin.target("lazy")
            try await client.publish(target: target, attributes: ["model": "acme/lazy", "mode": "lazy"])
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(target)/model.gguf")) == original)
            try await client.unpublish(target: target)
        }
    }

    @Test func anAgentKilledWithoutAHolderMountsAgainAfterARestartAndPublishReplacesDeadBinds() async throws {
        let first = try await PluginNode(options: ["--no-handover"])
        let target = first.target("survivor")
        let original = try Data(contentsOf: URL(fileURLWithPath: "\(try Fixtures.gguf())/model.gguf"))
        try await CSIClient.with(first.socket) { client in
            try await client.publish(target: target, attributes: ["model": "acme/gguf"])
        }
        kill(first.agent.processIdentifier, SIGKILL)
        first.agent.waitUntilExit()
        for _ in 0..<50 where !DeadMount.isDead(first.node.mount) { try await Task.sleep(for: .milliseconds(100)) }
        #expect(DeadMount.isDead(first.node.mount), "a killed agent leaves its mount dead")
        #expect(DeadMount.isDead(target), "and the binds of it")

        // The killed agent's socket file stays behind: without removing it, the wait below would not wait for the new one.
        unlink(first.socket)
        let second = try await PluginNode(options: ["--no-handover"], node: first.node)
        defer { second.stop() }
        // The new agent detaches the dead mount and mounts again after it starts listening.
        let remounted = "\(first.node.mount)/models/acme/gguf/model.gguf"
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: remounted) { try await Task.sleep(for: .milliseconds(100)) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: remounted)) == original)
        try await CSIClient.with(second.socket) { client in
            try await client.publish(target: target, attributes: ["model": "acme/gguf"])
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(target)/model.gguf")) == original, "kubelet's next publish replaces the dead bind")
            try await client.unpublish(target: target)
        }
    }

    @Test func anAgentKilledWithItsMountIsResumedByTheNextAndPublishedVolumesKeepWorking() async throws {
        let first = try await PluginNode()
        let target = first.target("survivor")
        let original = try Data(contentsOf: URL(fileURLWithPath: "\(try Fixtures.gguf())/model.gguf"))
        try await CSIClient.with(first.socket) { client in
            try await client.publish(target: target, attributes: ["model": "acme/gguf"])
        }
        // A pod's process opens its model file before the crash and reads it after. It is not this process: a file this
        // process held open on the mount would be closed (and flushed, which waits for a server) in every child it
        // spawns, the next agent included.
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/bin/sh")
        reader.arguments = ["-c", "exec 3< \"$1\" && echo open && read go && cat <&3", "reader", "\(target)/model.gguf"]
        let (input, output) = (Pipe(), Pipe())
        (reader.standardInput, reader.standardOutput) = (input, output)
        try reader.run()
        let opened = try await blocking { output.fileHandleForReading.readData(ofLength: 5) }
        try #require(opened == Data("open\n".utf8))
        kill(first.agent.processIdentifier, SIGKILL)
        first.agent.waitUntilExit()
        // Nothing looks at the mount until the next agent serves it: its holder keeps it, and a look would wait.
        unlink(first.socket)
        let second = try await PluginNode(node: first.node)
        defer { second.stop() }
        try input.fileHandleForWriting.write(contentsOf: Data("go\n".utf8))
        let bytes = try await blocking { output.fileHandleForReading.readDataToEndOfFile() }
        reader.waitUntilExit()
        #expect(reader.terminationStatus == 0 && bytes == original, "a file open across the crash reads on")
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(target)/model.gguf")) == original, "the bind still shows the mount")
        #expect(!DeadMount.isDead(first.node.mount))
        try await CSIClient.with(second.socket) { client in
            try await client.publish(target: target, attributes: ["model": "acme/gguf"])
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(target)/model.gguf")) == original, "publishing again changes nothing")
            try await client.unpublish(target: target)
        }
    }

    @Test func aTorrentVolumePublishesItsModelOnceReadyOnTheNodeAndAnAbsentTorrentIsNotFound() async throws {
        let scratch = try TemporaryDirectory()
        _ = try Fixtures.copy(try Fixtures.gguf(), to: scratch.appending("hub/acme/torrent-model"))
        let original = try Data(contentsOf: URL(fileURLWithPath: "\(try Fixtures.gguf())/model.gguf"))
        let torrent = scratch.appending("torrent.yaml")
        try """
        apiVersion: manta.io/v1alpha1
        kind: Torrent
        metadata:
          name: csi-torrent
        spec:
          hub:
            repoID: acme/torrent-model
        """.write(toFile: torrent, atomically: true, encoding: .utf8)
        let hub = HubServer(configuration: try HubServerConfiguration(root: scratch.appending("hub")))
        try await hub.withRunning { address in
            // `manta up`: the embedded API, the controller and the agent as this machine's node.
            let up = scratch.appending("up")
            let mount = scratch.appending("mnt")
            let socket = scratch.appending("csi/csi.sock")
            try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
            let process = try MantaProcess.process(
                ["up", "--dir", up, "--listen", "127.0.0.1:0", "--mount", mount, "--csi-socket", socket],
                environment: ["HF_ENDPOINT": address.endpoint, "HF_TOKEN": ""])
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            defer {
                kill(process.processIdentifier, SIGTERM)
                process.waitUntilExit()
            }
            try await CSIClient.waitForSocket(socket)
            try await CSIClient.with(socket) { client in
                let absent = await #expect(throws: RPCError.self) {
                    try await client.publishRetryingWhileUnavailable(
                        target: scratch.appending("pods/absent/volumes/model"), attributes: ["torrent": "absent"])
                }
                #expect(absent?.code == .notFound, "\(absent?.message ?? "")")

                let applied = try await MantaProcess.runAwaitingExit(["apply", "-f", torrent, "--dir", up])
                try #require(applied.succeeded, "\(applied.standardError)")
                let target = scratch.appending("pods/reader/volumes/model")
                try await client.publishRetryingWhileUnavailable(target: target, attributes: ["torrent": "csi-torrent"], for: .seconds(90))
                #expect(try Data(contentsOf: URL(fileURLWithPath: "\(target)/model.gguf")) == original)
                try await client.unpublish(target: target)
            }
        }
    }

    /// The store's pins that CSI volumes hold (the store is shared: the agent keeps it open meanwhile).
    static func volumeHolders(_ plugin: PluginNode) throws -> [String] {
        try Store(root: plugin.node.store).pins().map(\.holder).filter { $0.hasPrefix("volume:") }
    }

    /// `path` as the kernel writes mount points.
    static func normalized(_ path: String) -> String { "/" + path.split(separator: "/").joined(separator: "/") }

    /// Mounts at exactly `path`, from /proc/self/mountinfo.
    static func mountCount(at path: String) -> Int {
        let path = normalized(path)
        // procfs files have no size: read to the end.
        let table = String(decoding: FileHandle(forReadingAtPath: "/proc/self/mountinfo")?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
        return table.split(separator: "\n").filter { $0.split(separator: " ").dropFirst(4).first.map(String.init) == path }.count
    }
}

/// A gRPC client of the plugin's socket, as kubelet is one.
struct CSIClient {
    let identity: Csi_V1_Identity.Client<HTTP2ClientTransport.Posix>
    let node: Csi_V1_Node.Client<HTTP2ClientTransport.Posix>

    static func with(_ socket: String, _ body: (CSIClient) async throws -> Void) async throws {
        try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { client in
            try await body(CSIClient(identity: Csi_V1_Identity.Client(wrapping: client), node: Csi_V1_Node.Client(wrapping: client)))
        }
    }

    /// The agent announces its peer port before the plugin listens: wait (bounded) for the socket.
    static func waitForSocket(_ path: String) async throws {
        for _ in 0..<200 {
            if FileManager.default.fileExists(atPath: path) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw SocketDidNotAppear(path: path)
    }

    struct SocketDidNotAppear: Error, CustomStringConvertible {
        let path: String
        var description: String { "the CSI socket \(path) did not appear within 10 s" }
    }

    /// A mount volume with the access mode kubelet sends for inline volumes.
    static var mountCapability: Csi_V1_VolumeCapability {
        var capability = Csi_V1_VolumeCapability()
        capability.mount = Csi_V1_VolumeCapability.MountVolume()
        capability.accessMode.mode = .singleNodeWriter
        return capability
    }

    func publish(
        target: String, volumeID: String = "csi-0123456789abcdef", attributes: [String: String], readonly: Bool = true,
        capability: Csi_V1_VolumeCapability = CSIClient.mountCapability
    ) async throws {
        var request = Csi_V1_NodePublishVolumeRequest()
        request.volumeID = volumeID
        request.targetPath = target
        request.readonly = readonly
        request.volumeContext = attributes
        request.volumeCapability = capability
        _ = try await node.nodePublishVolume(request)
    }

    /// Publishes as kubelet does for a volume still being pulled: again after each UNAVAILABLE, bounded.
    func publishRetryingWhileUnavailable(target: String, attributes: [String: String], for timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            do {
                return try await publish(target: target, attributes: attributes)
            } catch let error as RPCError where error.code == .unavailable {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        try await publish(target: target, attributes: attributes)
    }

    func unpublish(target: String) async throws {
        var request = Csi_V1_NodeUnpublishVolumeRequest()
        request.volumeID = "csi-0123456789abcdef"
        request.targetPath = target
        _ = try await node.nodeUnpublishVolume(request)
    }
}
