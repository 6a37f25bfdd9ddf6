import ArgumentParser
import MantaCLISupport

/// The network half of the `manta` command line; `manta` runs it for the commands `NetworkCommand` lists,
/// so its usage reads `manta <command>`.
@main
struct MantaNet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manta",
        abstract: "Manta's network commands: hub pulls, mounts, the node agent, the controller and the hub server.",
        subcommands: [
            PullCommand.self, AddCommand.self, HubCommand.self, MountCommand.self, AgentCommand.self,
            ControllerCommand.self, WaitCommand.self,
        ]
    )

    static func main() async {
        CommandLineLogging.bootstrap()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
