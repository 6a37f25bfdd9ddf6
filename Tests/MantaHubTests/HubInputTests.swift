import Foundation
import MantaHub
import MantaTestSupport
import Testing

@Suite(.threadsOfItsOwn) struct HubInputTests {
    @Test(arguments: ["org", "org/name/extra", "/name", "org/", ".hidden/name", "org/na me", "org/../x", ""])
    func malformedRepoIDsAreRejectedByName(_ text: String) {
        #expect(throws: HubError.invalidRepoID(text)) { try HubRepoID(text) }
    }

    @Test func referencesParseRepoAndRevision() throws {
        let plain = try HubModelReference("acme/tiny")
        #expect(plain.repo == (try HubRepoID(namespace: "acme", name: "tiny")))
        #expect(plain.revision == "main")
        #expect(try HubModelReference("acme/tiny@v2.1").revision == "v2.1")
        #expect(try HubModelReference("acme/tiny@refs/pr/3").revision == "refs/pr/3")
    }

    @Test(arguments: ["acme/tiny@", "acme/tiny@a b", "acme/tiny@x..y", "acme/tiny@-rf", "acme/tiny@a:b"])
    func malformedRevisionsAreRejectedByName(_ text: String) throws {
        let revision = String(text[text.index(after: try #require(text.firstIndex(of: "@")))...])
        #expect(throws: HubError.invalidRevision(revision)) { try HubModelReference(text) }
    }

    @Test(arguments: ["../secret", "a//b", "/abs", "a/./b", "dir/"])
    func pathsThatCouldEscapeTheRepositoryAreRejected(_ path: String) throws {
        #expect(throws: HubError.invalidPath(path)) {
            try HubFileLocation(repo: HubRepoID("acme/tiny"), revision: "main", path: path)
        }
    }

    @Test func endpointMustBeAnHTTPURL() throws {
        #expect(throws: HubError.invalidEndpoint("ftp://hub")) { try HubClientConfiguration(endpoint: "ftp://hub") }
        #expect(try HubClientConfiguration(endpoint: "http://127.0.0.1:8080/").endpoint == "http://127.0.0.1:8080")
    }

    @Test func environmentGivesEndpointAndTokenWithHFTokenFirst() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("manta-token-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let tokenFile = folder.appendingPathComponent("token")
        try "hf_from_file\n".write(to: tokenFile, atomically: true, encoding: .utf8)

        let fromFile = try await HubClientConfiguration.fromEnvironment(["HF_ENDPOINT": "http://hub.local:9000", "HF_TOKEN_PATH": tokenFile.path])
        #expect(fromFile.endpoint == "http://hub.local:9000")
        #expect(fromFile.token == "hf_from_file")

        let fromVariable = try await HubClientConfiguration.fromEnvironment(["HF_TOKEN": "hf_var", "HF_TOKEN_PATH": tokenFile.path])
        #expect(fromVariable.token == "hf_var")
        #expect(fromVariable.endpoint == "https://huggingface.co")

        let fromHome = try await HubClientConfiguration.fromEnvironment(["HF_HOME": folder.path])
        #expect(fromHome.token == "hf_from_file")

        let anonymous = try await HubClientConfiguration.fromEnvironment(["HOME": folder.appendingPathComponent("nobody").path])
        #expect(anonymous.token == nil)
    }

    @Test func unreadableTokenFileIsAnErrorNamingIt() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("manta-token-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // A folder where the token file should be cannot be read as a file.
        await #expect {
            try await HubClientConfiguration.fromEnvironment(["HF_TOKEN_PATH": folder.path])
        } throws: { error in
            guard case .tokenFileUnreadable(let path, _) = error as? HubError else { return false }
            return path == folder.path
        }
    }

    @Test func serverAddressAndRateOptionsParse() throws {
        #expect(try HubServerConfiguration.parseAddress("127.0.0.1:0") == ("127.0.0.1", 0))
        #expect(try HubServerConfiguration.parseAddress("[::1]:8080") == ("::1", 8080))
        #expect(throws: HubServerError.invalidAddress("localhost")) { try HubServerConfiguration.parseAddress("localhost") }
        #expect(throws: HubServerError.invalidAddress("h:99999")) { try HubServerConfiguration.parseAddress("h:99999") }
        #expect(try HubServerConfiguration.parseRate("200M") == 200_000_000)
        #expect(try HubServerConfiguration.parseRate("1Mi") == 1_048_576)
        #expect(try HubServerConfiguration.parseRate("1.5G") == 1_500_000_000)
        #expect(try HubServerConfiguration.parseRate("4096") == 4096)
        #expect(throws: HubServerError.invalidRate("fast")) { try HubServerConfiguration.parseRate("fast") }
        #expect(throws: HubServerError.invalidRate("-5M")) { try HubServerConfiguration.parseRate("-5M") }
    }

    @Test func servingAFileInsteadOfAFolderFailsClearly() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("manta-not-a-dir-\(UUID().uuidString)")
        try Data("x".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let server = HubServer(configuration: try HubServerConfiguration(root: file.path))
        await #expect(throws: HubServerError.rootNotADirectory(file.path)) {
            try await server.withRunning { _ in }
        }
    }
}
