import ArgumentParser
import Foundation
import MantaCLISupport
import MantaKube

/// `manta delete torrent NAME`: the controller releases the Torrent's replicas as its reclaimPolicy says (Delete
/// frees the chunks nothing else uses), then the Torrent goes; by default the command waits for that.
struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: NetworkCommand.delete.rawValue, abstract: NetworkCommand.delete.abstract)

    @Argument(help: "torrent.")
    var resource: String

    @Argument(help: "The Torrents.")
    var names: [String]

    @Option(
        help: ArgumentHelp("Wait until the Torrents are gone (their replicas released), at most this long; 0s: do not wait.", valueName: "duration"))
    var timeout = DurationArgument(duration: .seconds(300))

    @OptionGroup var target: UpServerOptions

    func validate() throws {
        try TorrentResourceName.check(resource, command: "delete")
        guard !names.isEmpty else { throw ValidationError("name the Torrents to delete") }
    }

    func run() async throws {
        let client = try target.client()
        defer { Task { try? await client.shutdown() } }
        for name in names {
            do {
                try await client.delete(Torrent.self, name: name)
            } catch let error as KubeError where error.isNotFound {
                throw ValidationError("torrents.manta.io \"\(name)\" not found")
            }
        }
        let deadline = ContinuousClock.now + timeout.duration
        var remaining = names
        while !remaining.isEmpty, timeout.duration > .zero {
            var still: [String] = []
            for name in remaining where try await client.getIfPresent(Torrent.self, name: name) != nil { still.append(name) }
            remaining = still
            guard !remaining.isEmpty else { break }
            guard ContinuousClock.now < deadline else {
                throw ValidationError("still releasing after \(timeout): \(remaining.joined(separator: ", ")); see `manta describe torrent NAME`")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        for name in names { print("torrent.manta.io \"\(name)\" deleted") }
    }
}
