import Foundation
import MantaCLISupport
import MantaTestSupport
import Testing

@Suite("manta hands its network commands to manta-net", .threadsOfItsOwn)
struct NetworkCommandForwardingTests {
    @Test("manta --help lists every network command under its own heading")
    func helpListsEveryNetworkCommand() throws {
        let help = try MantaProcess.run(["--help"])
        #expect(help.succeeded)
        let heading = try #require(help.standardOutput.range(of: "NETWORK SUBCOMMANDS:"))
        let listed = help.standardOutput[heading.upperBound...]
        for command in NetworkCommand.allCases {
            #expect(listed.contains("\n  \(command.rawValue) "), "\(command.rawValue) is missing from manta --help")
        }
        #expect(help.standardOutput.contains("import"))
    }

    @Test("each network command's help comes from manta-net, directly and through manta help", arguments: NetworkCommand.allCases)
    func networkCommandHelpIsMantaNets(command: NetworkCommand) throws {
        for arguments in [[command.rawValue, "--help"], ["help", command.rawValue]] {
            let help = try MantaProcess.run(arguments)
            #expect(help.succeeded, "manta \(arguments.joined(separator: " ")): \(help.standardError)")
            #expect(help.standardOutput.contains("USAGE: manta \(command.rawValue)"), "\(help.standardOutput)")
        }
    }

    @Test("a network command's exit status and errors are manta-net's own")
    func networkCommandFailureComesThrough() throws {
        let result = try MantaProcess.run(["hub", "serve", NSTemporaryDirectory(), "--no-such-option"])
        #expect(result.status == 64)
        #expect(result.standardError.contains("Unknown option '--no-such-option'"))
        #expect(result.standardError.contains("Usage: manta hub serve"))
    }

    @Test("manta and manta-net report the same version, and manta-net says so when a manta of another version runs it")
    func versionsAgreeOrMantaNetWarns() throws {
        let network = URL(fileURLWithPath: try MantaProcess.binaryPath()).deletingLastPathComponent().appendingPathComponent("manta-net").path
        for executable in [nil, network] {
            let version = try MantaProcess.run(["--version"], executable: executable)
            #expect(version.succeeded)
            #expect(version.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == MantaVersion.current)
        }

        let matched = try MantaProcess.run(["wait", "--help"])
        #expect(matched.succeeded)
        #expect(!matched.standardError.contains("warning"), "\(matched.standardError)")

        let stale = try MantaProcess.run(["wait", "--help"], environment: [MantaVersion.callerEnvironmentKey: "0.0.9"], executable: network)
        #expect(stale.succeeded, "a version mismatch warns; it does not stop the command")
        #expect(stale.standardError.contains("manta 0.0.9 ran manta-net \(MantaVersion.current)"), "\(stale.standardError)")
        #expect(stale.standardOutput.contains("USAGE: manta wait"))
    }

    @Test("without manta-net beside it, manta names the missing executable and still runs the store commands")
    func missingNetworkExecutableIsReported() throws {
        let folder = try TemporaryDirectory()
        let lone = folder.appending("manta")
        try MantaProcess.copyBinary(to: lone)

        let pull = try MantaProcess.run(["pull", "org/name"], executable: lone)
        #expect(pull.status == 127)
        #expect(pull.standardError.contains("`manta pull` is run by manta-net"))
        #expect(pull.standardError.contains(URL(fileURLWithPath: folder.appending("manta-net")).standardizedFileURL.path))
        #expect(pull.standardError.contains("Install manta-net in the same folder as manta"))

        let list = try MantaProcess.run(["ls", "--store", folder.appending("store")], executable: lone)
        #expect(list.succeeded, "\(list.standardError)")
    }
}
