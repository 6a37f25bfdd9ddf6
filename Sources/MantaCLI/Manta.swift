import ArgumentParser
import MantaCLISupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

@main
struct Manta: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manta",
        abstract: "Node-local, peer-to-peer cache for AI model weights.",
        discussion: "The network subcommands are run by \(NetworkCommand.executableName), which is installed beside manta.",
        version: MantaVersion.current,
        subcommands: [
            ImportCommand.self, ListCommand.self, InspectCommand.self, ExportCommand.self,
            VerifyCommand.self, DiskUsageCommand.self, GCCommand.self, PinCommand.self,
            UnpinCommand.self, RemoveCommand.self,
        ],
        groupedSubcommands: [
            CommandGroup(name: "network", subcommands: NetworkCommand.entries)
        ]
    )

    static func main() {
        if let arguments = NetworkCommand.forwardedArguments(CommandLine.arguments) {
            let failure = NetworkCommand.runNetworkExecutable(arguments)
            StandardError.write("manta: \(failure)\n")
            Glibc.exit(failure.exitStatus)
        }
        CommandLineLogging.bootstrap()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
