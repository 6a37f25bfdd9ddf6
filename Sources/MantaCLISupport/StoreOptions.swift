import ArgumentParser
import MantaStore

public struct StoreOptions: ParsableArguments, Sendable {
    @Option(
        name: .long,
        help: ArgumentHelp("The store folder (default: $MANTA_STORE, /var/lib/manta as root, else ~/.local/share/manta).", valueName: "dir"))
    public var store: String?

    public init() {}

    public func open(changes: StoreConfigurationChanges = StoreConfigurationChanges()) throws -> Store {
        try Store(root: store ?? Store.defaultRoot, changes: changes)
    }
}

/// Parses a repository argument, reporting why it is invalid rather than a bare "invalid value".
public func parseReference(_ text: String, revision: String? = nil) throws -> RepoReference {
    do {
        let reference = try RepoReference(parsing: text)
        if let revision { return try reference.at(revision: revision) }
        return reference
    } catch {
        throw ValidationError(error.description)
    }
}
