import ArgumentParser
import Foundation
import MantaHub

/// The hub a command talks to: `--endpoint`, else `$HF_ENDPOINT`, else huggingface.co; `HF_TOKEN` (or the token file) authenticates.
struct HubOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The hub (default: $HF_ENDPOINT, else https://huggingface.co).", valueName: "url"))
    var endpoint: String?

    func configuration() async throws -> HubClientConfiguration {
        try await Self.configuration(endpoint: endpoint)
    }

    /// The hub settings of the process environment, with `endpoint` (if given) as `HF_ENDPOINT`.
    static func configuration(endpoint: String?) async throws -> HubClientConfiguration {
        var environment = ProcessInfo.processInfo.environment
        if let endpoint { environment["HF_ENDPOINT"] = endpoint }
        return try await HubClientConfiguration.fromEnvironment(environment)
    }
}

/// Parses `org/name[@rev]` for a hub command, as a usage error when malformed.
func parseHubReference(_ text: String) throws -> HubModelReference {
    do {
        return try HubModelReference(text)
    } catch {
        throw ValidationError(error.description)
    }
}
