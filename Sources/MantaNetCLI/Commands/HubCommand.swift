import ArgumentParser
import Foundation
import Logging
import MantaCLISupport
import MantaHub

struct HubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: NetworkCommand.hub.rawValue,
        abstract: NetworkCommand.hub.abstract,
        subcommands: [HubServeCommand.self]
    )
}

struct HubServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a folder of repositories (<dir>/<org>/<name>/ is revision main) through the Hugging Face HTTP API.",
        discussion: "Prints HF_ENDPOINT=<url> once listening (with port 0, the port the OS chose). Stops on SIGTERM or SIGINT."
    )

    @Argument(help: ArgumentHelp("The folder of repositories.", valueName: "dir"))
    var directory: String

    @Option(help: ArgumentHelp("Where to listen (port 0: any free port).", valueName: "host:port"))
    var addr = "127.0.0.1:8080"

    @Option(
        name: .customLong("token-file"),
        help: ArgumentHelp(
            "Require `Authorization: Bearer <token>` on every request, the token read from this file (default: $MANTA_HUB_TOKEN).", valueName: "file")
    )
    var tokenFile: String?

    @Option(help: "As --token-file, the token given on the command line, where other users can read it: prefer --token-file.")
    var token: String?

    @Option(name: .customLong("max-rate"), help: ArgumentHelp("Cap on body bytes per second over all responses, e.g. 200MB/s.", valueName: "rate"))
    var maxRate: String?

    func run() async throws {
        let (host, port) = try HubServerConfiguration.parseAddress(addr)
        let token = try HubServerToken.resolve(file: tokenFile, commandLine: self.token, environment: ProcessInfo.processInfo.environment)
        if let warning = token.warning { StandardError.write("warning: \(warning)\n") }
        let config = try HubServerConfiguration(
            root: directory, host: host, port: port, token: token.token,
            maximumBytesPerSecond: try maxRate.map(HubServerConfiguration.parseRate)
        )
        try await HubServer(configuration: config, logger: Logger(label: "manta.hub.server")).run(handlingSignals: true) { address in
            // Unbuffered, so a script reading the pipe learns the port at once.
            FileHandle.standardOutput.write(Data("HF_ENDPOINT=\(address.endpoint)\n".utf8))
        }
    }
}
