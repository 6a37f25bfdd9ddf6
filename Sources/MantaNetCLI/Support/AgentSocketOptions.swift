import ArgumentParser
import MantaAgent
import MantaCLISupport
import MantaStore

/// Where the agent owning the store listens, for commands that let it do the work so one process writes the store.
struct AgentSocketOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "The socket of the agent that owns the store (default: <store>/agent.sock); with none listening, the command works on the store directly.",
            valueName: "path"))
    var socket: String?

    /// The agent owning the store, if one listens.
    func agent(for storeOptions: StoreOptions) -> LocalAgentClient? {
        LocalAgentClient.connect(socketPath: socket ?? AgentConfiguration.defaultSocketPath(storeRoot: storeOptions.store ?? Store.defaultRoot))
    }
}
