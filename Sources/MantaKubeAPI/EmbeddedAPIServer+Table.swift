import Foundation
import Hummingbird
import MantaKube

/// Torrents as a `meta.k8s.io/v1` Table, the form `kubectl get` asks for (`Accept: …;as=Table`), with the CRD's
/// printer columns (Phase, Ready, Age), so kubectl prints what it prints against a cluster.
extension EmbeddedAPIServer {
    static let torrents = APIStore.Collection(group: Torrent.resourceType.group, version: Torrent.resourceType.version, plural: Torrent.resourceType.plural)

    static func wantsTable(_ request: Request) -> Bool {
        (request.headers[.accept] ?? "").contains("as=Table")
    }

    static func torrentTable(_ objects: [JSONValue], resourceVersion: Int64, now: Date = Date()) -> Response {
        let columns: [JSONValue] = [
            ["name": "Name", "type": "string", "format": "name", "description": "Name of the Torrent.", "priority": 0],
            ["name": "Phase", "type": "string", "format": "", "description": "The Torrent's phase.", "priority": 0],
            ["name": "Ready", "type": "integer", "format": "", "description": "Replicas whose node holds the whole model.", "priority": 0],
            ["name": "Age", "type": "string", "format": "", "description": "Time since the Torrent was created.", "priority": 0],
        ]
        let rows: [JSONValue] = objects.map { object in
            let metadata = object["metadata"] ?? [:]
            let cells: [JSONValue] = [
                metadata["name"] ?? "", object["status"]?["phase"] ?? "", object["status"]?["readyReplicas"] ?? 0,
                .string(ObjectAge.text(since: metadata["creationTimestamp"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) }, now: now)),
            ]
            return ["cells": .array(cells), "object": ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata]]
        }
        return json(200, [
            "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": ["resourceVersion": .string(String(resourceVersion))],
            "columnDefinitions": .array(columns), "rows": .array(rows),
        ])
    }
}
