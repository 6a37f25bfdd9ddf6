import ArgumentParser
import Foundation
import MantaCLISupport

/// The network half of the `manta` command line; `manta` runs it for the commands `NetworkCommand` lists,
/// so its usage reads `manta <command>`.
@main
struct MantaNet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manta",
        abstract: "Manta's network commands: hub pulls, mounts, the node agent, the controller and the hub server.",
        version: MantaVersion.current,
        subcommands: [
            PullCommand.self, AddCommand.self, HubCommand.self, MountCommand.self, AgentCommand.self,
            ControllerCommand.self, WaitCommand.self, UpCommand.self, ApplyCommand.self, GetCommand.self, DescribeCommand.self,
            DeleteCommand.self, FuseHolderCommand.self, SimulateSwarmCommand.self,
        ]
    )

    static func main() async {
        if let warning = MantaVersion.mismatch(caller: ProcessInfo.processInfo.environment[MantaVersion.callerEnvironmentKey]) {
            StandardError.write("\(warning)\n")
        }
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
