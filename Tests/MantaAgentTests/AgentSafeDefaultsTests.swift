import Foundation
import MantaTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `manta agent` refuses to serve peers on the network without a token unless told to, and its local socket admits
/// its owner and one group only.
@Suite(.threadsOfItsOwn) struct AgentSafeDefaultsTests {
    @Test func anAgentOnANonLoopbackAddressWithoutATokenRefusesToStartAndSaysHowToMakeOne() throws {
        let scratch = try TemporaryDirectory()
        let result = try MantaProcess.run(
            ["agent", "--store", scratch.appending("store"), "--listen", "0.0.0.0:0"], environment: ["MANTA_TOKEN": ""])
        #expect(result.status != 0)
        #expect(result.standardError.contains("refusing to serve peers on 0.0.0.0:0 without a token"), "\(result.standardError)")
        #expect(result.standardError.contains("head -c 32 /dev/urandom | base64 > /etc/manta/token"))
        #expect(result.standardError.contains("--token-file"))
        #expect(result.standardError.contains("--insecure-no-auth"))
        #expect(!FileManager.default.fileExists(atPath: scratch.appending("store/agent.sock")), "nothing was served")
    }

    @Test func insecureNoAuthStartsTheAgentWithAWarning() async throws {
        let scratch = try TemporaryDirectory()
        let log = scratch.appending("agent.log")
        let (agent, port) = try await AgentProcessTests.startAgent(
            store: scratch.appending("store"), tokenFile: nil, listen: "0.0.0.0:0", options: ["--insecure-no-auth"], errorLog: log)
        defer { if agent.isRunning { agent.terminate() } }
        #expect(port > 0)
        kill(agent.processIdentifier, SIGTERM)
        agent.waitUntilExit()
        #expect(agent.terminationStatus == 0)
        let warning = try String(contentsOfFile: log, encoding: .utf8)
        #expect(warning.contains("WITHOUT authentication (--insecure-no-auth)"), "\(warning)")
    }

    @Test func aLoopbackAgentNeedsNoToken() async throws {
        let scratch = try TemporaryDirectory()
        let (agent, port) = try await AgentProcessTests.startAgent(store: scratch.appending("store"), tokenFile: nil)
        defer { agent.terminate() }
        #expect(port > 0)
    }

    @Test(arguments: [nil, "4242", "daemon"])
    func theLocalSocketIsOpenToItsOwnerAndOneGroupOnly(group: String?) async throws {
        let scratch = try TemporaryDirectory()
        let store = scratch.appending("store")
        let tokenFile = scratch.appending("token")
        try "cluster-secret\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let (agent, _) = try await AgentProcessTests.startAgent(
            store: store, tokenFile: tokenFile, options: group.map { ["--socket-group", $0] } ?? [])
        defer { agent.terminate() }
        let socket = "\(store)/agent.sock"
        try await eventually("the socket is restricted once it listens") {
            var info = stat()
            return stat(socket, &info) == 0 && info.st_mode & 0o777 == 0o660
        }
        var info = stat()
        try #require(stat(socket, &info) == 0)
        #expect(info.st_mode & 0o170000 == 0o140000, "a socket")
        #expect(info.st_mode & 0o777 == 0o660, "mode \(String(info.st_mode & 0o777, radix: 8)): no access for other users")
        #expect(info.st_gid == (try expectedGroup(group)))
    }

    @Test func anUnknownSocketGroupIsNamed() throws {
        let scratch = try TemporaryDirectory()
        let result = try MantaProcess.run(
            ["agent", "--store", scratch.appending("store"), "--listen", "127.0.0.1:0", "--socket-group", "no-such-group-manta"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("--socket-group 'no-such-group-manta' is neither a group"), "\(result.standardError)")
    }

    @Test(arguments: [
        (["--idle-timeout", "48h"], "--idle-timeout must be longer than 0s and at most 24h"),
        (["--idle-timeout", "9223372036854775s9223372036854775s"], "is invalid for '--idle-timeout"),
        (["--max-connections", "0"], "--max-connections 0 is not between 1 and 1000000"),
        (
            ["--max-connections", "10", "--max-connections-per-client", "11"],
            "--max-connections-per-client 11 is not between 1 and --max-connections (10)"
        ),
        (["--swarm-topology", "star"], "Please provide one of 'line', 'tree', 'mesh' or 'automatic'"),
    ])
    func optionsOutOfRangeAreNamed(options: [String], expected: String) throws {
        let scratch = try TemporaryDirectory()
        let result = try MantaProcess.run(["agent", "--store", scratch.appending("store"), "--listen", "127.0.0.1:0"] + options)
        #expect(result.status != 0)
        #expect(result.standardError.contains(expected), "\(result.standardError)")
    }

    private func expectedGroup(_ group: String?) throws -> gid_t {
        guard let group else { return getegid() }
        if let number = gid_t(group) { return number }
        return try #require(getgrnam(group)?.pointee.gr_gid, "the group \(group) exists on Debian")
    }
}
