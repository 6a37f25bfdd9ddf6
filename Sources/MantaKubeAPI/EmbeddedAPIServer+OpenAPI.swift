import Foundation
import Hummingbird
import MantaKube

/// `/openapi/v3` and one document per served group version, so `kubectl apply` validates without `--validate=false`.
/// Each PATCH, POST and PUT lists the `fieldValidation` parameter: kubectl then leaves validation to the server
/// (``TorrentSchema``) instead of asking for `/openapi/v2`. Torrents carry their real schema; the other kinds are
/// open objects.
extension EmbeddedAPIServer {
    /// The OpenAPI answer for `path`, or nil when it is not an OpenAPI path.
    func openAPI(_ path: String) -> Response? {
        if path == "/openapi/v3" || path == "/openapi/v3/" { return Self.json(200, Self.openAPIIndex) }
        guard path.hasPrefix("/openapi/v3/"), let document = Self.openAPIDocuments[String(path.dropFirst("/openapi/v3/".count))] else { return nil }
        return Self.json(200, document)
    }

    static let openAPIIndex: JSONValue = [
        "paths": .object(
            Dictionary(
                uniqueKeysWithValues: openAPIDocuments.map { groupPath, document in
                    (groupPath, ["serverRelativeURL": .string("/openapi/v3/\(groupPath)?hash=\(stableHash(document))")])
                }))
    ]

    /// The documents by their index key: `api/v1`, `apis/<group>/<version>`.
    static let openAPIDocuments: [String: JSONValue] = Dictionary(grouping: servedResources, by: \.type.apiVersion).reduce(into: [:]) {
        documents, entry in
        let (groupVersion, resources) = entry
        var paths: [String: JSONValue] = [:]
        var schemas: [String: JSONValue] = [
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": [
                "type": "object", "x-kubernetes-preserve-unknown-fields": true,
                "properties": ["name": ["type": "string"], "namespace": ["type": "string"], "generateName": ["type": "string"]],
            ]
        ]
        for resource in resources {
            let type = resource.type
            let kind: JSONValue = ["group": .string(type.group), "version": .string(type.version), "kind": .string(type.kind)]
            let prefix =
                (type.group.isEmpty ? "/api/\(type.version)" : "/apis/\(type.apiVersion)") + (type.namespaced ? "/namespaces/{namespace}" : "")
            let parameters: JSONValue = [["name": "fieldValidation", "in": "query", "schema": ["type": "string", "uniqueItems": true]]]
            let operation: JSONValue = ["parameters": parameters, "x-kubernetes-group-version-kind": kind]
            paths["\(prefix)/\(type.plural)"] = ["post": operation]
            paths["\(prefix)/\(type.plural)/{name}"] = ["patch": operation, "put": operation]
            var schema: JSONValue =
                type == Torrent.resourceType ? TorrentSchema.openAPI : ["type": "object", "x-kubernetes-preserve-unknown-fields": true]
            schema["x-kubernetes-group-version-kind"] = [kind]
            let packagePrefix = type.group.isEmpty ? "io.k8s.api.core" : type.group.split(separator: ".").reversed().joined(separator: ".")
            schemas["\(packagePrefix).\(type.version).\(type.kind)"] = schema
        }
        let key = resources[0].type.group.isEmpty ? "api/\(groupVersion)" : "apis/\(groupVersion)"
        documents[key] = [
            "openapi": "3.0.0", "info": ["title": "manta", "version": .string(groupVersion)],
            "paths": .object(paths), "components": ["schemas": .object(schemas)],
        ]
    }

    /// FNV-1a of the document's sorted-key JSON: the same document always gets the same `hash`, which kubectl caches by.
    private static func stableHash(_ document: JSONValue) -> String {
        let bytes = (try? KubeJSON.encoder().encode(document)) ?? Data()
        let hash = bytes.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        return String(hash, radix: 16, uppercase: true)
    }
}
