import ArgumentParser

/// The resource argument of `manta get`, `describe` and `delete`: the names kubectl accepts for Torrents.
enum TorrentResourceName {
    static let accepted: Set<String> = ["torrents", "torrent", "tr", "torrents.manta.io"]

    static func check(_ resource: String, command: String) throws {
        guard accepted.contains(resource) else {
            throw ValidationError("manta \(command) knows torrents; '\(resource)' is not one (kubectl --server reads the rest)")
        }
    }
}
