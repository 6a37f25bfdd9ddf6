import ArgumentParser
import Foundation
import MantaCLISupport
import MantaKube
import MantaKubeAPI

/// `manta apply -f`: Torrent manifests into a `manta up` instance, checked first against the Torrent schema, all
/// of them, so that one invalid document stores nothing.
struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: NetworkCommand.apply.rawValue, abstract: NetworkCommand.apply.abstract)

    @Option(
        name: [.short, .customLong("filename")], help: ArgumentHelp("A manifest, a folder of them, or - for standard input.", valueName: "file|dir|-")
    )
    var filename: [String]

    @OptionGroup var target: UpServerOptions

    func validate() throws {
        guard !filename.isEmpty else { throw ValidationError("give the manifests with -f FILE, -f DIR or -f -") }
    }

    func run() async throws {
        let documents = try ManifestReader.documents(filename)
        var torrents: [(name: String, object: JSONValue)] = []
        for document in documents {
            torrents.append(try Self.admit(document))
        }
        let client = try target.client()
        defer { Task { try? await client.shutdown() } }
        for torrent in torrents {
            do {
                if try await client.getIfPresent(Torrent.self, name: torrent.name) == nil {
                    _ = try await client.create(TorrentManifest(torrent.object))
                    print("torrent.manta.io/\(torrent.name) created")
                } else {
                    // The manifest replaces the spec, labels and annotations, so a field taken out of it goes (as kubectl
                    // apply's last-applied bookkeeping achieves); the status stays the controller's.
                    let manifest = try TorrentManifest(torrent.object)
                    try await client.modify(TorrentManifest.self, name: torrent.name) { current in
                        current.spec = manifest.spec
                        current.metadata.labels = manifest.metadata.labels
                        current.metadata.annotations = manifest.metadata.annotations
                        return true
                    }
                    print("torrent.manta.io/\(torrent.name) configured")
                }
            } catch let error as KubeError {
                if case .api(_, _, let message) = error { throw ValidationError(message) }
                throw error
            }
        }
        try await client.shutdown()
    }

    /// The document's Torrent name, once the schema the API server applies accepts it.
    static func admit(_ document: ManifestReader.Document) throws -> (name: String, object: JSONValue) {
        let object = document.object
        let kind = object["kind"]?.stringValue ?? ""
        let apiVersion = object["apiVersion"]?.stringValue ?? ""
        guard kind == Torrent.resourceType.kind, apiVersion == Torrent.resourceType.apiVersion else {
            throw ValidationError(
                "\(document.source): kind \"\(kind)\" apiVersion \"\(apiVersion)\" is not a Torrent (manta.io/v1alpha1); nothing was applied")
        }
        guard let name = object["metadata"]?["name"]?.stringValue, !name.isEmpty else {
            throw ValidationError("\(document.source): metadata.name: Required value; nothing was applied")
        }
        do {
            _ = try TorrentSchema.admit(object, old: nil, name: name)
        } catch let error as APIRequestError {
            throw ValidationError("\(document.source): \(error.message); nothing was applied")
        }
        return (name, object)
    }
}

/// A Torrent as written in a manifest, its spec sent as is so that the server's schema judges it.
struct TorrentManifest: KubeResource {
    static let resourceType = Torrent.resourceType
    var apiVersion: String?
    var kind: String?
    var metadata: ObjectMeta
    var spec: JSONValue?

    init(_ object: JSONValue) throws {
        self = try KubeJSON.decoder().decode(Self.self, from: try KubeJSON.encoder().encode(object))
    }
}
