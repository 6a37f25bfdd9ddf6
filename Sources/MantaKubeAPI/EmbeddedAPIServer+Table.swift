import Foundation
import Hummingbird
import MantaKube
import NIOCore
import NIOFoundationCompat

/// Torrents as a `meta.k8s.io/v1` Table, the form `kubectl get` asks for (`Accept: …;as=Table`), with the CRD's
/// printer columns (Phase, Ready, Age), so kubectl prints what it prints against a cluster.
extension EmbeddedAPIServer {
    static let torrents = APIStore.Collection(
        group: Torrent.resourceType.group, version: Torrent.resourceType.version, plural: Torrent.resourceType.plural)

    static func wantsTable(_ request: Request) -> Bool {
        (request.headers[.accept] ?? "").contains("as=Table")
    }

    static func torrentTable(_ objects: [JSONValue], resourceVersion: Int64, now: Date = Date()) -> Response {
        json(200, torrentTableValue(objects, resourceVersion: resourceVersion, now: now))
    }

    /// A watch event line with its Torrent as a one-row Table, as `kubectl get -w` asks; bookmarks and errors as they are.
    static func torrentTableEvent(_ line: ByteBuffer) -> ByteBuffer {
        guard var event = try? JSONDecoder().decode(JSONValue.self, from: line), let object = event["object"],
            ["ADDED", "MODIFIED", "DELETED"].contains(event["type"]?.stringValue ?? ""),
            let version = object["metadata"]?["resourceVersion"]?.stringValue.flatMap({ Int64($0) }),
            let data = try? KubeJSON.encoder().encode(
                {
                    event["object"] = torrentTableValue([object], resourceVersion: version)
                    return event
                }())
        else { return line }
        var buffer = ByteBuffer(data: data)
        buffer.writeString("\n")
        return buffer
    }

    static func torrentTableValue(_ objects: [JSONValue], resourceVersion: Int64, now: Date = Date()) -> JSONValue {
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
        return [
            "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": ["resourceVersion": .string(String(resourceVersion))],
            "columnDefinitions": .array(columns), "rows": .array(rows),
        ]
    }
}
