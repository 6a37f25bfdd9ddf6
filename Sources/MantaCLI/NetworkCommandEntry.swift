import ArgumentParser
import MantaCLISupport

/// A network command as `manta --help` lists it. `Manta.main` hands these commands to `manta-net` before
/// parsing, so `run` is a fallback for any path that parses them anyway.
struct NetworkCommandEntry<Name: NetworkCommandName>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: Name.command.rawValue, abstract: Name.command.abstract)
    }

    @Argument(parsing: .allUnrecognized) var arguments: [String] = []

    func run() throws {
        throw NetworkCommand.runNetworkExecutable([Name.command.rawValue] + arguments)
    }
}

extension NetworkCommand {
    /// Every network command's entry, in `NetworkCommand`'s order.
    static var entries: [ParsableCommand.Type] {
        [
            NetworkCommandEntry<PullName>.self, NetworkCommandEntry<AddName>.self, NetworkCommandEntry<HubName>.self,
            NetworkCommandEntry<MountName>.self, NetworkCommandEntry<AgentName>.self,
            NetworkCommandEntry<ControllerName>.self, NetworkCommandEntry<WaitName>.self, NetworkCommandEntry<UpName>.self,
            NetworkCommandEntry<ApplyName>.self, NetworkCommandEntry<GetName>.self, NetworkCommandEntry<DescribeName>.self,
            NetworkCommandEntry<DeleteName>.self,
        ]
    }
}

/// One type per command, because each subcommand `ArgumentParser` lists must be a type of its own.
protocol NetworkCommandName { static var command: NetworkCommand { get } }
enum PullName: NetworkCommandName { static var command: NetworkCommand { .pull } }
enum AddName: NetworkCommandName { static var command: NetworkCommand { .add } }
enum HubName: NetworkCommandName { static var command: NetworkCommand { .hub } }
enum MountName: NetworkCommandName { static var command: NetworkCommand { .mount } }
enum AgentName: NetworkCommandName { static var command: NetworkCommand { .agent } }
enum ControllerName: NetworkCommandName { static var command: NetworkCommand { .controller } }
enum WaitName: NetworkCommandName { static var command: NetworkCommand { .wait } }
enum UpName: NetworkCommandName { static var command: NetworkCommand { .up } }
enum ApplyName: NetworkCommandName { static var command: NetworkCommand { .apply } }
enum GetName: NetworkCommandName { static var command: NetworkCommand { .get } }
enum DescribeName: NetworkCommandName { static var command: NetworkCommand { .describe } }
enum DeleteName: NetworkCommandName { static var command: NetworkCommand { .delete } }
