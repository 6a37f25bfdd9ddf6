import ArgumentParser
import Foundation
import MantaCLISupport
import MantaKube
import Yams

/// `manta get torrents`: the Torrents of a `manta up` instance with their phase and progress, or as YAML or JSON.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: NetworkCommand.get.rawValue, abstract: NetworkCommand.get.abstract)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case wide, yaml, json
    }

    @Argument(help: "torrents (torrent, tr).")
    var resource: String

    @Argument(help: "Only this Torrent.")
    var name: String?

    @Option(name: [.short, .customLong("output")], help: "wide, yaml or json.")
    var output: Format?

    @Flag(name: [.short, .customLong("watch")], help: "After the list, print each change until interrupted.")
    var watch = false

    @OptionGroup var target: UpServerOptions

    func validate() throws {
        try TorrentResourceName.check(resource, command: "get")
    }

    func run() async throws {
        let client = try target.client()
        defer { Task { try? await client.shutdown() } }
        let list = try await client.list(Torrent.self)
        let torrents = list.items.filter { name == nil || $0.name == name }
        if let name, torrents.isEmpty, !watch {
            throw ValidationError("torrents.manta.io \"\(name)\" not found")
        }
        try printAll(torrents, header: true)
        guard watch else { return }
        var version = list.metadata.resourceVersion
        while !Task.isCancelled {
            for try await event in try await client.watch(Torrent.self, resourceVersion: version, fieldSelector: name.map { "metadata.name=\($0)" }) {
                switch event {
                case .added(let torrent), .modified(let torrent), .deleted(let torrent):
                    try printAll([torrent], header: false)
                case .bookmark:
                    break
                }
                version = event.resourceVersion ?? version
            }
        }
    }

    private func printAll(_ torrents: [Torrent], header: Bool) throws {
        // A watch's lines go out as they come, into a pipe or a file too.
        defer { fflush(nil) }
        switch output {
        case .json, .yaml:
            let objects = try torrents.map { try JSONDecoder().decode(JSONValue.self, from: try KubeJSON.encoder().encode($0)) }
            // One named Torrent, or one change while watching, prints as the object itself; a listing as a List.
            let value: JSONValue =
                objects.count == 1 && (name != nil || !header) ? objects[0] : ["apiVersion": "v1", "kind": "List", "items": .array(objects)]
            if output == .json {
                let encoder = KubeJSON.encoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(value), as: UTF8.self))
            } else {
                print((header ? "" : "---\n") + (try YAMLEncoder().encode(value)), terminator: "")
            }
        case .wide, nil:
            let wide = output == .wide
            if header, torrents.isEmpty {
                print("No torrents found.")
                return
            }
            let rows = (header ? [TorrentTable.header(wide: wide)] : []) + torrents.map { TorrentTable.row($0, wide: wide) }
            print(TorrentTable.format(rows))
        }
    }
}
