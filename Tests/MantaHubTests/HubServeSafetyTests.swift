import AsyncHTTPClient
import Foundation
import MantaHub
import MantaStore
import MantaTestSupport
import NIOCore
import Testing

/// `manta hub serve` serves what is in its folder and nothing else, and keeps its token out of sight.
@Suite(.threadsOfItsOwn) struct HubServeSafetyTests {
    @Test func linksOutOfTheServedFolderAreSkippedAndLinkLoopsEndTheScan() async throws {
        let directory = try TemporaryDirectory("manta-links")
        let repo = directory.appending("hub/acme/linked")
        try FileManager.default.createDirectory(atPath: repo + "/sub", withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: repo + "/config.json"))
        try Data("secret".utf8).write(to: URL(fileURLWithPath: directory.appending("secret.txt")))
        let links = [
            ("shadow", "/etc/shadow"), ("escape.txt", "../../../secret.txt"), ("folder-out", "/etc"),
            ("alias.json", "config.json"), ("sub/back", ".."), ("sub/again", "../sub"), ("self", "self"),
        ]
        for (name, target) in links {
            try FileManager.default.createSymbolicLink(atPath: repo + "/" + name, withDestinationPath: target)
        }
        let server = HubServer(configuration: try HubServerConfiguration(root: directory.appending("hub")))
        try await server.withRunning { address in
            let client = try testClient(address)
            let snapshot = try await client.snapshot(of: HubModelReference("acme/linked"))
            #expect(snapshot.files.map(\.path) == ["alias.json", "config.json"])
            for path in ["shadow", "escape.txt", "folder-out/hostname", "sub/back/config.json"] {
                let (response, _) = try await HubServerTests.send("\(address.endpoint)/acme/linked/resolve/main/\(path)")
                #expect(response.status == .notFound, "\(path)")
            }
            let (response, body) = try await HubServerTests.send("\(address.endpoint)/acme/linked/resolve/main/alias.json")
            #expect(response.status == .ok && body == Array("{}".utf8))
        }
    }

    @Test func aHuggingFaceCacheSnapshotIsServedThroughItsBlobLinks() async throws {
        let directory = try TemporaryDirectory("manta-hf-cache")
        let cache = directory.appending("cache/models--acme--cached")
        let snapshot = cache + "/snapshots/" + String(repeating: "a", count: 40)
        try FileManager.default.createDirectory(atPath: cache + "/blobs", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
        try Data("{\"a\":1}".utf8).write(to: URL(fileURLWithPath: cache + "/blobs/0123"))
        try FileManager.default.createSymbolicLink(atPath: snapshot + "/config.json", withDestinationPath: "../../blobs/0123")
        try FileManager.default.createDirectory(atPath: directory.appending("hub/acme"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: directory.appending("hub/acme/cached"), withDestinationPath: snapshot)
        let server = HubServer(configuration: try HubServerConfiguration(root: directory.appending("hub")))
        try await server.withRunning { address in
            let files = try await testClient(address).snapshot(of: HubModelReference("acme/cached")).files
            #expect(files.map(\.path) == ["config.json"])
        }
    }

    @Test func theTokenComesFromAFileOrTheEnvironmentAndTheCommandLineEarnsAWarning() throws {
        let directory = try TemporaryDirectory("manta-token")
        let file = directory.appending("token")
        try Data("  s3cret-token\n".utf8).write(to: URL(fileURLWithPath: file))
        #expect(try HubServerToken.resolve(file: file, commandLine: nil, environment: [:]) == HubServerToken(token: "s3cret-token", warning: nil))
        #expect(try HubServerToken.resolve(file: nil, commandLine: nil, environment: ["MANTA_HUB_TOKEN": "env-token"]).token == "env-token")
        #expect(try HubServerToken.resolve(file: nil, commandLine: nil, environment: [:]).token == nil)
        let given = try HubServerToken.resolve(file: nil, commandLine: "visible", environment: [:])
        #expect(given.token == "visible" && given.warning?.contains("/proc/<pid>/cmdline") == true)
        #expect(throws: HubServerError.tokenGivenTwice) { try HubServerToken.resolve(file: file, commandLine: "x", environment: [:]) }
        try Data("\n".utf8).write(to: URL(fileURLWithPath: directory.appending("empty")))
        for bad in [directory.appending("empty"), directory.appending("absent")] {
            #expect(throws: HubServerError.self) { try HubServerToken.resolve(file: bad, commandLine: nil, environment: [:]) }
        }
    }

    @Test func hubServeWithATokenFileRefusesOtherTokensAndKeepsItOffTheCommandLine() async throws {
        let directory = try TemporaryDirectory("manta-token-serve")
        try Fixtures.copy(try Fixtures.syntheticShards(), to: directory.appending("hub/acme/shards"))
        let tokenFile = directory.appending("token")
        try Data("right-token\n".utf8).write(to: URL(fileURLWithPath: tokenFile))
        let manta = try MantaProcess.binaryPath()
        let server = try ChildProcess.start(
            [manta, "hub", "serve", directory.appending("hub"), "--addr", "127.0.0.1:0", "--token-file", tokenFile], environment: [:],
            captureOutput: true
        )
        defer { kill(server.pid, SIGTERM) }
        let endpoint = try #require(try await server.firstOutputLine().split(separator: "=", maxSplits: 1).last.map(String.init))
        let commandLine = try String(contentsOfFile: "/proc/\(server.pid)/cmdline", encoding: .utf8)
        #expect(!commandLine.contains("right-token"))
        let url = "\(endpoint)/api/models/acme/shards"
        for (header, status) in [(nil, 401), ("Bearer wrong-token", 401), ("Bearer right-toke", 401), ("Bearer right-token", 200)]
            as [(String?, UInt)]
        {
            let (response, _) = try await HubServerTests.send(url, headers: header.map { [("Authorization", $0)] } ?? [])
            #expect(response.status.code == status, "\(header ?? "no token")")
        }
        kill(server.pid, SIGTERM)
        #expect(await server.status.value == 0)
    }
}
