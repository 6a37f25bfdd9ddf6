import ArgumentParser

@main
struct Manta: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manta",
        abstract: "Node-local, peer-to-peer cache for AI model weights.",
        subcommands: []
    )
}
