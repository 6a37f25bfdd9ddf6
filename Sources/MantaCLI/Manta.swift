import ArgumentParser
import Foundation
import Logging

@main
struct Manta: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manta",
        abstract: "Node-local, peer-to-peer cache for AI model weights.",
        subcommands: [
            ImportCommand.self, ListCommand.self, InspectCommand.self, ExportCommand.self,
            VerifyCommand.self, DiskUsageCommand.self, GCCommand.self, PinCommand.self,
            UnpinCommand.self, RemoveCommand.self, PullCommand.self, AddCommand.self, HubCommand.self, MountCommand.self,
            AgentCommand.self, ControllerCommand.self, WaitCommand.self,
        ]
    )

    static func main() async {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: ProcessInfo.processInfo.environment["MANTA_LOG_LEVEL"] ?? "") ?? .notice
            return handler
        }
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
