import MantaKube

/// The Torrent's OpenAPI v3 schema (deploy/crds/manta.io_torrents.yaml's `openAPIV3Schema`, less descriptions and the
/// status's detail; TorrentOpenAPISchemaTests holds the two equal). ``TorrentSchema/admit(_:old:name:)`` takes its defaults, enums and minimums from here, and the
/// embedded API serves it at `/openapi/v3`, so what kubectl is told and what the server enforces cannot drift apart.
extension TorrentSchema {
    public static let openAPI: JSONValue = [
        "type": "object",
        "properties": [
            "apiVersion": ["type": "string"],
            "kind": ["type": "string"],
            "metadata": ["$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"],
            "spec": [
                "type": "object",
                "required": ["hub"],
                "properties": [
                    "hub": [
                        "type": "object",
                        "required": ["repoID"],
                        "properties": [
                            "name": ["type": "string", "default": "Huggingface", "enum": ["Huggingface"]],
                            "repoID": ["type": "string", "minLength": 1],
                            "filename": ["type": "string", "minLength": 1],
                            "revision": ["type": "string", "default": "main", "minLength": 1],
                        ],
                    ],
                    "preheat": ["type": "boolean", "default": true],
                    "replicas": ["type": "integer", "format": "int32", "minimum": 1, "default": 1],
                    "reclaimPolicy": ["type": "string", "enum": ["Retain", "Delete"], "default": "Retain"],
                    "ttlSecondsAfterReady": ["type": "integer", "format": "int64", "minimum": 0],
                    "nodeSelector": ["type": "object", "additionalProperties": ["type": "string"]],
                ],
            ],
            "status": ["type": "object", "x-kubernetes-preserve-unknown-fields": true],
        ],
    ]

    /// The schema of `spec.<path>`.
    static func specField(_ path: [String]) -> JSONValue? {
        path.reduce(openAPI["properties"]?["spec"]) { schema, name in schema?["properties"]?[name] }
    }

    /// `object` with each absent property that `schema` gives a default set to it.
    static func withDefaults(_ object: JSONValue, from schema: JSONValue?) -> JSONValue {
        var object = object
        for (name, property) in schema?["properties"]?.objectValue ?? [:] where object[name] == nil {
            if let value = property["default"] { object[name] = value }
        }
        return object
    }

    /// The paths of the fields in `value` that `schema` does not declare; objects without `properties` (metadata,
    /// status, maps) take any field.
    static func unknownFields(in value: JSONValue, schema: JSONValue) -> [String] {
        var unknown: [String] = []
        _ = pruned(value, schema: schema, removing: &unknown)
        return unknown
    }

    /// `value` without the fields `schema` does not declare, as the API server prunes a structural schema's object;
    /// `removed` gets their paths.
    static func pruned(_ value: JSONValue, schema: JSONValue, path: String = "", removing removed: inout [String]) -> JSONValue {
        switch value {
        case .object(let fields):
            guard let properties = schema["properties"]?.objectValue else { return value }
            var kept: [String: JSONValue] = [:]
            for name in fields.keys.sorted() {
                let fieldPath = path.isEmpty ? name : "\(path).\(name)"
                guard let property = properties[name], let field = fields[name] else {
                    removed.append(fieldPath)
                    continue
                }
                kept[name] = pruned(field, schema: property, path: fieldPath, removing: &removed)
            }
            return .object(kept)
        case .array(let items):
            guard let itemSchema = schema["items"] else { return value }
            return .array(items.enumerated().map { index, item in pruned(item, schema: itemSchema, path: "\(path)[\(index)]", removing: &removed) })
        default:
            return value
        }
    }

    /// The error for `value` at `spec.<path>` when the schema's enum does not list it.
    static func unsupported(_ value: JSONValue?, at path: String...) -> String? {
        guard let value = value?.stringValue, case .array(let allowed)? = specField(path)?["enum"], !allowed.contains(.string(value)) else {
            return nil
        }
        let listed = allowed.compactMap(\.stringValue).map { "\"\($0)\"" }.joined(separator: ", ")
        return "spec.\(path.joined(separator: ".")): Unsupported value: \"\(value)\": supported values: \(listed)"
    }

    /// The error for `value` at `spec.<field>` when it is under the schema's minimum.
    static func belowMinimum(_ value: JSONValue?, at field: String) -> String? {
        guard let value = value?.intValue, let minimum = specField([field])?["minimum"]?.intValue, value < minimum else { return nil }
        return "spec.\(field): Invalid value: \(value): spec.\(field) in body should be greater than or equal to \(minimum)"
    }
}
