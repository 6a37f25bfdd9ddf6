import Hummingbird
import MantaKube

/// The discovery documents `kubectl` reads before it touches a resource: `/api`, `/apis`, each group version's
/// resource list and `/version`. Only the collections the embedded server holds are listed.
extension EmbeddedAPIServer {
    struct ServedResource {
        var type: ResourceType
        var singular: String
        var shortNames: [String] = []
        var hasStatus: Bool
    }

    static let servedResources: [ServedResource] = [
        ServedResource(type: Torrent.resourceType, singular: "torrent", hasStatus: true),
        ServedResource(type: Replication.resourceType, singular: "replication", hasStatus: true),
        ServedResource(type: NodeTracker.resourceType, singular: "nodetracker", hasStatus: true),
        ServedResource(type: Node.resourceType, singular: "node", shortNames: ["no"], hasStatus: true),
        ServedResource(type: Event.resourceType, singular: "event", shortNames: ["ev"], hasStatus: false),
        ServedResource(type: Lease.resourceType, singular: "lease", hasStatus: false),
    ]

    /// The discovery answer for `path`, or nil when it is not a discovery path.
    func discovery(_ path: String) -> Response? {
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        switch trimmed {
        case "/version":
            return Self.json(200, ["major": "1", "minor": "32", "gitVersion": "v1.32.0-manta", "platform": "linux/amd64"])
        case "/api":
            return Self.json(200, ["kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []])
        case "/apis":
            let groups = Set(Self.servedResources.map(\.type).filter { !$0.group.isEmpty }.map(\.apiVersion)).sorted()
            return Self.json(
                200,
                [
                    "kind": "APIGroupList", "apiVersion": "v1",
                    "groups": .array(
                        groups.map { groupVersion in
                            let parts = groupVersion.split(separator: "/").map(String.init)
                            let version: JSONValue = ["groupVersion": .string(groupVersion), "version": .string(parts[1])]
                            return ["name": .string(parts[0]), "versions": [version], "preferredVersion": version]
                        }),
                ])
        default:
            let groupVersion = trimmed == "/api/v1" ? "v1" : trimmed.hasPrefix("/apis/") ? String(trimmed.dropFirst("/apis/".count)) : nil
            let resources = Self.servedResources.filter { $0.type.apiVersion == groupVersion }
            guard let groupVersion, !resources.isEmpty else { return nil }
            return Self.json(
                200,
                [
                    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(groupVersion),
                    "resources": .array(resources.flatMap(Self.entries)),
                ])
        }
    }

    private static func entries(_ resource: ServedResource) -> [JSONValue] {
        let verbs: JSONValue = ["create", "delete", "get", "list", "patch", "update", "watch"]
        var main: JSONValue = [
            "name": .string(resource.type.plural), "singularName": .string(resource.singular), "namespaced": .bool(resource.type.namespaced),
            "kind": .string(resource.type.kind), "verbs": verbs,
        ]
        if !resource.shortNames.isEmpty { main["shortNames"] = .array(resource.shortNames.map { .string($0) }) }
        guard resource.hasStatus else { return [main] }
        let status: JSONValue = [
            "name": .string(resource.type.plural + "/status"), "singularName": "", "namespaced": .bool(resource.type.namespaced),
            "kind": .string(resource.type.kind), "verbs": ["get", "patch", "update"],
        ]
        return [main, status]
    }
}
